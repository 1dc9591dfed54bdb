//! The server process the binary's tests run: started on port 0 of
//! 127.0.0.1, killed by its PID when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_httpserver-example");

/// A server process, killed (by PID) when dropped if still running.
pub(crate) struct ServerProcess {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `command` (which runs the binary) and waits for its
    /// `listening on` line.
    pub(crate) fn start(mut command: Command) -> ServerProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on http://")
            .or_else(|| line.trim().strip_prefix("listening on https://"))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        ServerProcess {
            addr: url.parse().unwrap(),
            child,
        }
    }

    /// The binary on port 0 with `args`.
    pub(crate) fn with_args(args: &[&str]) -> ServerProcess {
        let mut command = Command::new(BIN);
        command.args(["--port", "0"]).args(args);
        ServerProcess::start(command)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
