//! The blocking watchdog: a callback blocks the loop for 500 ms, and the
//! watchdog reports it after about 100 ms, while it still runs, with the
//! loop thread's stack.
//!
//! ```text
//! RUST_LOG=warn cargo run -p ioloop --example blocking
//! ```
//!
//! The warning names `busy_wait_in_callback`, where the loop is stuck; as
//! the callback keeps running, it is reported again at about 200 and
//! 400 ms. With `RUST_LOG=info`, a last record says when it returned.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ioloop::IOLoop;

/// Burns the CPU for `how_long`: the kind of work that must not run on a
/// loop thread. Not inlined, so the stack shows it even in release builds.
#[inline(never)]
fn busy_wait_in_callback(how_long: Duration) {
    let start = Instant::now();
    let mut spins = 0u64;
    while start.elapsed() < how_long {
        spins = black_box(spins + 1);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let block = match std::env::args().nth(1) {
        Some(ms) => Duration::from_millis(ms.parse()?),
        None => Duration::from_millis(500),
    };
    let ioloop = IOLoop::new()?;
    ioloop.set_blocking_log_threshold(Some(Duration::from_millis(100)))?;
    println!(
        "blocking the loop for {} ms under a 100 ms watchdog threshold...",
        block.as_millis()
    );
    let l = ioloop.clone();
    ioloop.add_callback(move || {
        busy_wait_in_callback(block);
        // Run on a little, so the watchdog sees the callback return.
        let stop = l.clone();
        l.call_later(Duration::from_millis(100), move || stop.stop());
    });
    ioloop.start()?;
    println!("done");
    Ok(())
}
