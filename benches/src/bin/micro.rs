//! Runs one loop micro-benchmark workload once and prints its rate: the
//! same code criterion times in `benches/loop_micro.rs`, for whole-process
//! timing side by side (`benches/scripts/paired.py`), `strace -c`, `perf`
//! and callgrind.
//!
//! ```text
//! cargo run --release -p benches --features peers --bin micro -- GROUP IMPLEMENTATION [REPEAT]
//! cargo run --release -p benches --features peers --bin micro -- --list
//! ```
//!
//! With `REPEAT` the workload runs that many times in the process and the
//! median is printed: the steady state, without one-time set-up such as
//! the blocking watchdog's thread and unwinder warm-up.

use std::process::ExitCode;

use benches::micro::{WORKLOADS, elements, run_once};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!("usage: micro GROUP IMPLEMENTATION | micro --list");
        for (group, implementation) in WORKLOADS {
            eprintln!("  {group} {implementation}");
        }
        ExitCode::from(2)
    };
    match args.as_slice() {
        [flag] if flag == "--list" => {
            for (group, implementation) in WORKLOADS {
                println!("{group} {implementation}");
            }
            ExitCode::SUCCESS
        }
        [group, implementation] => report(group, implementation, 1),
        [group, implementation, repeat] => match repeat.parse::<usize>() {
            Ok(repeat) if repeat > 0 => report(group, implementation, repeat),
            _ => usage(),
        },
        _ => usage(),
    }
}

/// Runs the workload `repeat` times and prints the median time and rate.
fn report(group: &str, implementation: &str, repeat: usize) -> ExitCode {
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        match run_once(group, implementation) {
            Some(took) => times.push(took),
            None => {
                eprintln!("unknown workload {group} {implementation}; micro --list names them");
                return ExitCode::from(2);
            }
        }
    }
    times.sort();
    let took = times[times.len() / 2];
    let n = elements(group).expect("a known group");
    println!(
        "{group} {implementation}: {:.3} s, {:.0} per second",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    ExitCode::SUCCESS
}
