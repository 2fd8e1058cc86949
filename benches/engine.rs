//! Criterion benchmarks of the core (issue 14): what `Engine` costs per event, next to the
//! baselines it is judged against, measured in the same group and run:
//!
//! - `clone`: a `serde_json::Value` clone of the same event (the copy any host takes);
//! - `from_str`: `serde_json::from_str` of the event's JSON text (what reading it costs).
//!
//! Groups: the batched upsert (10 fields incl. a date) and the batched list add by email, each
//! with the batch never due (a fresh connector every 290 events, built outside the timing);
//! bulk import at three queue depths (0–8k, 5k–15k and 18k–24k rows queued: the per-event cost
//! must stay flat as the file grows); snapshot and restore of a 45,000-event backlog across the
//! actions, against writing the same events to JSON text and reading them back.
//!
//!   cargo bench --bench engine                 (all)
//!   cargo bench --bench engine -- bulk         (one group)
//!
//! The bench profile is the release one (opt-level "s", LTO), as the .wasm is built.
//! Criterion prints times; `node benches/ratios.mjs` prints the ratios (each bench over its
//! group's baselines) from target/criterion.

#[cfg(not(target_arch = "wasm32"))]
mod support;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
    use serde_json::Value;

    use super::support::{self, Connector};

    /// Events a connector takes before its batch would be due (300 seals it; one warm-up
    /// event is queued already).
    const NOT_DUE: usize = 290;
    /// Distinct events cycled through (distinct emails: no lookup is saved by a repeat).
    const POOL: usize = 25_000;

    struct Pool {
        events: Vec<Value>,
        texts: Vec<String>,
    }

    fn pool() -> Pool {
        let events: Vec<Value> = (0..POOL).map(support::event).collect();
        let texts = events.iter().map(Value::to_string).collect();
        Pool { events, texts }
    }

    /// The two baselines, in the group `g`.
    fn baselines(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, p: &Pool) {
        g.bench_function("baseline: Value clone", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % POOL;
                black_box(p.events[i].clone())
            })
        });
        g.bench_function("baseline: serde_json::from_str", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % POOL;
                black_box(serde_json::from_str::<Value>(&p.texts[i]).expect("JSON"))
            })
        });
    }

    /// Per event, with the batch never due: connectors are built outside the timing and each
    /// takes at most `NOT_DUE` events.
    fn not_due(c: &mut Criterion, p: &Pool, name: &str, action: Value) {
        let id = action["id"].as_str().expect("id").to_string();
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(1));
        baselines(&mut g, p);
        g.bench_function("Engine::handle_event", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0u64;
                let mut i = 0;
                while done < iters {
                    let mut conn = Connector::new(std::slice::from_ref(&action));
                    let n = (iters - done).min(NOT_DUE as u64);
                    let t0 = Instant::now();
                    for _ in 0..n {
                        i = (i + 1) % POOL;
                        conn.process(&id, &p.events[i]);
                    }
                    total += t0.elapsed();
                    done += n;
                    drop(black_box(conn));
                }
                total
            })
        });
        g.finish();
    }

    /// Per bulk row with `from`..`to` rows queued: one connector is filled to `from` outside the
    /// timing, takes events up to `to`, and is replaced by a fresh one filled to `from`.
    fn bulk(c: &mut Criterion, p: &Pool) {
        let action = support::bulk_import();
        let mut g = c.benchmark_group("bulkImportLeads");
        g.throughput(Throughput::Elements(1)).sample_size(20).measurement_time(Duration::from_secs(4));
        baselines(&mut g, p);
        for (from, to) in [(0usize, 8_000usize), (5_000, 15_000), (18_000, 24_000)] {
            let name = format!("{}k–{}k rows queued", from / 1000, to / 1000);
            g.bench_function(BenchmarkId::new("Engine::handle_event", name), |b| {
                let fill = |conn: &mut Connector| {
                    for e in &p.events[..from] {
                        conn.process("bulk", e);
                    }
                };
                let mut conn = Connector::new(std::slice::from_ref(&action));
                fill(&mut conn);
                let mut at = from;
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut done = 0u64;
                    while done < iters {
                        if at >= to {
                            conn = Connector::new(std::slice::from_ref(&action));
                            fill(&mut conn);
                            at = from;
                        }
                        let n = (iters - done).min((to - at) as u64) as usize;
                        let t0 = Instant::now();
                        for e in &p.events[at..at + n] {
                            conn.process("bulk", e);
                        }
                        total += t0.elapsed();
                        at += n;
                        done += n as u64;
                    }
                    total
                })
            });
        }
        g.finish();
    }

    /// A backlog of 45,000 open events across the actions (calls in flight never answered):
    /// `snapshot()` to text and `restore()` from it, against writing the same events as JSON
    /// text and reading them back (`snapshot()` is judged against the first, `restore()` the
    /// second).
    fn backlog(c: &mut Criterion, p: &Pool) {
        let actions = [
            support::upsert_batched(),
            support::upsert(),
            support::list_add_by_email(),
            support::bulk_import(),
        ];
        let mut conn = Connector::new(&actions);
        let split = [("upb", 12_000), ("up", 3_000), ("addb", 12_000), ("bulk", 18_000)];
        let mut i = 0;
        for (action, n) in split {
            for _ in 0..n {
                conn.process(action, &p.events[i % POOL]);
                i += 1;
            }
        }
        let events: Vec<Value> = (0..i).map(|k| p.events[k % POOL].clone()).collect();
        let text = conn.snapshot();
        let pending = conn.pending();
        let mut g = c.benchmark_group(format!("backlog of {pending} events"));
        g.sample_size(10).measurement_time(Duration::from_secs(8));
        let events_text = serde_json::to_string(&events).expect("JSON");
        g.bench_function("baseline: the events to JSON text", |b| {
            b.iter(|| black_box(serde_json::to_string(&events).expect("JSON")))
        });
        g.bench_function("baseline: the events from JSON text", |b| {
            b.iter(|| black_box(serde_json::from_str::<Value>(&events_text).expect("JSON")))
        });
        g.bench_function("snapshot()", |b| b.iter(|| black_box(conn.snapshot())));
        g.bench_function("restore()", |b| {
            b.iter_batched(|| (), |()| black_box(conn.restore(&text)), BatchSize::PerIteration)
        });
        g.finish();
    }

    pub fn main() {
        let p = pool();
        let mut c = Criterion::default().configure_from_args();
        not_due(&mut c, &p, "createOrUpdateLeadBatched, 10 fields incl. a date", support::upsert_batched());
        not_due(&mut c, &p, "addLeadToListBatched, email lookup", support::list_add_by_email());
        bulk(&mut c, &p);
        backlog(&mut c, &p);
        c.final_summary();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

// Criterion is a native dev-dependency: on wasm32 (clippy --all-targets) the bench is empty.
#[cfg(target_arch = "wasm32")]
fn main() {}
