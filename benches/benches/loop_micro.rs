//! Loop micro-benchmarks, ours and the peers' side by side in one run. The
//! workloads live in `benches::micro` (see its table), so that the `micro`
//! binary can run exactly the same code once for paired whole-process timing
//! (`benches/scripts/paired.py`), `strace -c` or callgrind.
//!
//! ```text
//! cargo bench -p benches --features peers --bench loop_micro                   # everything
//! cargo bench -p benches --features peers --bench loop_micro -- callbacks      # one family
//! ```

use std::time::Duration;

use benches::micro::{
    N_CALLBACKS, N_TIMERS, N_XTHREAD, PAIRS, ROUND_TRIPS, boxed_callback, calloop_batch,
    calloop_chain, calloop_cross_thread, calloop_pingpong, delayqueue_insert_remove,
    delayqueue_total, ioloop_batch, ioloop_chain, ioloop_cross_thread, ioloop_pingpong,
    ioloop_timers_insert_remove, ioloop_timers_total, timer_delays_us, tokio_batch, tokio_chain,
    tokio_cross_thread, tokio_pingpong, tokio_rt,
};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn group<'a>(c: &'a mut Criterion, name: &str, elements: u64) -> Group<'a> {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.throughput(Throughput::Elements(elements));
    group
}

fn callbacks(c: &mut Criterion) {
    let rt = tokio_rt();
    let mut g = group(c, "callbacks_chain_2M", N_CALLBACKS);
    g.bench_function("ioloop", |b| b.iter(|| ioloop_chain(N_CALLBACKS, false)));
    g.bench_function("ioloop_watchdog", |b| {
        b.iter(|| ioloop_chain(N_CALLBACKS, true))
    });
    g.bench_function("tokio", |b| b.iter(|| tokio_chain(&rt, N_CALLBACKS)));
    g.bench_function("calloop", |b| b.iter(|| calloop_chain(N_CALLBACKS)));
    g.finish();
    let mut g = group(c, "callbacks_batch_2M", N_CALLBACKS);
    g.bench_function("ioloop", |b| b.iter(|| ioloop_batch(N_CALLBACKS)));
    g.bench_function("tokio", |b| b.iter(|| tokio_batch(&rt, N_CALLBACKS)));
    g.bench_function("calloop", |b| b.iter(|| calloop_batch(N_CALLBACKS)));
    g.finish();
}

fn timers(c: &mut Criterion) {
    let delays = timer_delays_us(N_TIMERS);
    let rt = tokio_rt();
    let mut g = group(c, "timers_insert_remove_1M", N_TIMERS as u64);
    g.bench_function("ioloop", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (took, ioloop, _) = ioloop_timers_insert_remove(&delays);
                    ioloop.close(true).unwrap();
                    took
                })
                .sum()
        })
    });
    g.bench_function("tokio_delayqueue", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| rt.block_on(async { delayqueue_insert_remove(&delays, || ()).0 }))
                .sum()
        })
    });
    g.bench_function("tokio_delayqueue_boxed", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| rt.block_on(async { delayqueue_insert_remove(&delays, boxed_callback).0 }))
                .sum()
        })
    });
    g.finish();
    let mut g = group(c, "timers_total_1M", N_TIMERS as u64);
    g.bench_function("ioloop", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| ioloop_timers_total(&delays)).sum())
    });
    g.bench_function("tokio_delayqueue", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| delayqueue_total(&rt, &delays, || (), drop))
                .sum::<Duration>()
        })
    });
    g.bench_function("tokio_delayqueue_boxed", |b| {
        b.iter_custom(|iters| {
            let mut count = 0;
            (0..iters)
                .map(|_| delayqueue_total(&rt, &delays, boxed_callback, |f| f(&mut count)))
                .sum::<Duration>()
        })
    });
    g.finish();
}

fn cross_thread(c: &mut Criterion) {
    let rt = tokio_rt();
    let mut g = group(c, "cross_thread_1M", N_XTHREAD);
    g.bench_function("ioloop", |b| b.iter(|| ioloop_cross_thread(N_XTHREAD)));
    g.bench_function("tokio_mpsc", |b| {
        b.iter(|| tokio_cross_thread(&rt, N_XTHREAD))
    });
    g.bench_function("calloop_channel", |b| {
        b.iter(|| calloop_cross_thread(N_XTHREAD))
    });
    g.finish();
}

fn pingpong(c: &mut Criterion) {
    let rt = tokio_rt();
    let mut g = group(c, "pingpong_100_pairs", ROUND_TRIPS * PAIRS as u64);
    g.bench_function("ioloop", |b| b.iter(|| ioloop_pingpong(ROUND_TRIPS)));
    g.bench_function("tokio", |b| b.iter(|| tokio_pingpong(&rt, ROUND_TRIPS)));
    g.bench_function("calloop", |b| b.iter(|| calloop_pingpong(ROUND_TRIPS)));
    g.finish();
}

criterion_group!(benches, callbacks, timers, cross_thread, pingpong);
criterion_main!(benches);
