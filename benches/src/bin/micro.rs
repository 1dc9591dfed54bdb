//! Runs one loop micro-benchmark workload once and prints its rate: the
//! same code criterion times in `benches/loop_micro.rs`, for whole-process
//! timing side by side (`benches/scripts/paired.sh`), `strace -c`, `perf`
//! and callgrind.
//!
//! ```text
//! cargo run --release -p benches --bin micro -- GROUP IMPLEMENTATION
//! cargo run --release -p benches --bin micro -- --list
//! ```

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
        [group, implementation] => match run_once(group, implementation) {
            Some(took) => {
                let n = elements(group).expect("a known group");
                println!(
                    "{group} {implementation}: {:.3} s, {:.0} per second",
                    took.as_secs_f64(),
                    n as f64 / took.as_secs_f64()
                );
                ExitCode::SUCCESS
            }
            None => usage(),
        },
        _ => usage(),
    }
}
