//! The loop as an executor, side by side with tokio's current-thread
//! runtime in the same run:
//!
//! * `spawn_complete_100k`: spawn 100,000 tasks that complete at once and
//!   await every handle;
//! * `yield_chain_1M`: one task that wakes itself 1,000,000 times
//!   (`yield_now`).
//!
//! ```text
//! cargo bench -p benches --features peers --bench futures
//! ```

use std::cell::Cell;
use std::rc::Rc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ioloop::{IOLoop, MakeCurrent};

const SPAWNS: u64 = 100_000;
const YIELDS: u64 = 1_000_000;

fn new_loop() -> IOLoop {
    IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .expect("loop")
}

fn tokio_rt() -> tokio::runtime::Runtime {
    // What `#[tokio::main(flavor = "current_thread")]` builds.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn spawn_complete(c: &mut Criterion) {
    let mut group = c.benchmark_group("tasks/spawn_complete_100k");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SPAWNS));
    group.bench_function("ioloop", |b| {
        let ioloop = new_loop();
        b.iter(|| {
            let count = Rc::new(Cell::new(0u64));
            ioloop
                .run_sync(
                    || async {
                        let l = IOLoop::current();
                        let handles: Vec<_> = (0..SPAWNS)
                            .map(|_| {
                                let c = count.clone();
                                l.spawn(async move { c.set(c.get() + 1) })
                            })
                            .collect();
                        for h in handles {
                            h.await.unwrap();
                        }
                    },
                    None,
                )
                .unwrap();
            assert_eq!(count.get(), SPAWNS);
        });
    });
    group.bench_function("tokio_spawn", |b| {
        let rt = tokio_rt();
        b.iter(|| {
            rt.block_on(async {
                let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                let handles: Vec<_> = (0..SPAWNS)
                    .map(|_| {
                        let c = count.clone();
                        tokio::spawn(async move {
                            c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        })
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
                assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), SPAWNS);
            })
        });
    });
    group.bench_function("tokio_spawn_local", |b| {
        let rt = tokio_rt();
        b.iter(|| {
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async {
                let count = Rc::new(Cell::new(0u64));
                let handles: Vec<_> = (0..SPAWNS)
                    .map(|_| {
                        let c = count.clone();
                        tokio::task::spawn_local(async move { c.set(c.get() + 1) })
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
                assert_eq!(count.get(), SPAWNS);
            })
        });
    });
    group.finish();
}

fn yield_chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("tasks/yield_chain_1M");
    group.sample_size(10);
    group.throughput(Throughput::Elements(YIELDS));
    group.bench_function("ioloop", |b| {
        let ioloop = new_loop();
        b.iter(|| {
            ioloop
                .run_sync(
                    || {
                        IOLoop::current().spawn(async {
                            for _ in 0..YIELDS {
                                ioloop::yield_now().await;
                            }
                        })
                    },
                    None,
                )
                .unwrap()
                .unwrap();
        });
    });
    group.bench_function("tokio", |b| {
        let rt = tokio_rt();
        b.iter(|| {
            rt.block_on(async {
                tokio::spawn(async {
                    for _ in 0..YIELDS {
                        tokio::task::yield_now().await;
                    }
                })
                .await
                .unwrap();
            })
        });
    });
    group.finish();
}

criterion_group!(benches, spawn_complete, yield_chain);
criterion_main!(benches);
