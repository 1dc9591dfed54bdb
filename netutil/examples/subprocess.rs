//! A shell command run through `Subprocess`: its input written, its output
//! and errors read as they come, its exit status awaited.
//!
//! ```text
//! cargo run -p netutil --example subprocess -- [SCRIPT]
//! ```
//!
//! `SCRIPT` is given to `sh -c` (default: a script that upper-cases its
//! input, writes a line to stderr and exits with 3). The example writes
//! three lines to the command's stdin, then prints each line of its stdout
//! and stderr as it arrives, and its exit status. Try
//! `-- 'sort; echo done >&2'` or `-- 'kill -TERM $$'`; set `RUST_LOG=debug`
//! to see the spawn and the exit logged.

use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use ioloop::IOLoop;
use netutil::{IOStream, Subprocess};

const DEFAULT_SCRIPT: &str = "tr a-z A-Z; echo 'a line on stderr' >&2; exit 3";

/// Prints each line of `stream` with `label` until end of file.
async fn print_lines(label: &str, stream: &IOStream) {
    loop {
        match stream.read_until(b"\n", Some(64 * 1024)).await {
            Ok(line) => print!("{label}: {}", String::from_utf8_lossy(&line)),
            Err(_) => {
                // End of file (or an error): print what is left unterminated.
                let rest = stream.with_buffer(<[u8]>::to_vec);
                if !rest.is_empty() {
                    println!("{label}: {}", String::from_utf8_lossy(&rest));
                }
                return;
            }
        }
    }
}

async fn run(script: String) -> std::io::Result<ExitStatus> {
    let child = Subprocess::spawn(
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    println!("pid {}: sh -c {script:?}", child.pid());
    let stdin = child.stdin().expect("piped");
    let feed = async {
        // A command that does not read its input closes the pipe: fine.
        if let Err(err) = stdin.write(b"one\ntwo\nthree\n").await {
            log::debug!("stdin: {err}");
        }
        stdin.close(); // end of file for the command
    };
    futures::join!(
        feed,
        print_lines("stdout", child.stdout().expect("piped")),
        print_lines("stderr", child.stderr().expect("piped")),
    );
    child.wait_for_exit().await
}

fn main() {
    // Errors are printed for people (`Display`), not as `Debug` structures.
    if let Err(err) = try_main() {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

fn try_main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let script = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_SCRIPT.to_owned());
    let ioloop = IOLoop::new()?;
    let status = ioloop.run_sync(|| run(script), Some(Duration::from_secs(60)))??;
    println!("exit: {status}");
    Ok(())
}
