//! `Subprocess`: pipes as streams, the exit future and callback, signals,
//! and the zombie policy (Tornado's `process_test.SubprocessTest`).

use std::cell::{Cell, RefCell};
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::time::Duration;

use futures::FutureExt;
use ioloop::IOLoop;
use netutil::{
    CalledProcessError, StreamClosedError, StreamOptions, Subprocess, SubprocessOptions,
};

use crate::util::sys::is_unreaped_child;
use crate::util::{new_loop, run, run_until_idle};

/// `cat` with stdin and stdout piped.
fn cat() -> Subprocess {
    Subprocess::spawn(
        Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    )
    .unwrap()
}

/// `sh -c script`, stdout and stderr piped.
fn sh(script: &str) -> Subprocess {
    Subprocess::spawn(
        Command::new("sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap()
}

#[test]
fn a_subprocess_echo_round_trip() {
    run(|| async {
        let cat = cat();
        let stdin = cat.stdin().unwrap();
        stdin.write(b"hello\n").await.unwrap();
        let stdout = cat.stdout().unwrap();
        assert_eq!(
            stdout.read_until(b"\n", Some(100)).await.unwrap(),
            b"hello\n",
            "cat answers each line"
        );
        stdin.write(b"and goodbye").await.unwrap();
        stdin.close();
        assert_eq!(stdout.read_until_close().await.unwrap(), b"and goodbye");
        let status = cat.wait_for_exit_checked().await.unwrap();
        assert_eq!(status.code(), Some(0));
        assert_eq!(cat.exit_status(), Some(status));
        assert!(cat.stderr().is_none(), "stderr was not piped");
    });
}

#[test]
fn an_exit_code_arrives_and_the_checked_wait_names_pid_and_code() {
    run(|| async {
        let child = Subprocess::spawn(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        assert!(child.stdin().is_none() && child.stdout().is_none());
        assert_eq!(child.wait_for_exit().await.unwrap().code(), Some(3));
        let err = child.wait_for_exit_checked().await.unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!("pid {}", child.pid())) && message.contains("exit status: 3"),
            "{message}"
        );
        assert!(message.contains("`sh`"), "names the program: {message}");
        let called = CalledProcessError::find(&err).expect("a CalledProcessError");
        assert_eq!(called.status().code(), Some(3));
        assert_eq!(called.pid(), child.pid());
        assert_eq!(called.program(), "sh");
    });
}

#[test]
fn a_child_killed_by_sigkill_reports_the_signal() {
    run(|| async {
        let child = Subprocess::spawn(Command::new("sleep").arg("60")).unwrap();
        child.kill().unwrap();
        let status = child.wait_for_exit().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(status.code(), None);
        let err = child.wait_for_exit_checked().await.unwrap_err();
        assert!(err.to_string().contains("SIGKILL"), "{err}");
        // Reaped: its pid may belong to someone else now.
        let err = child.kill().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            err.to_string().contains(&format!("pid {}", child.pid())),
            "{err}"
        );
    });
}

#[test]
fn signal_sends_the_given_signal() {
    run(|| async {
        let child = Subprocess::spawn(Command::new("sleep").arg("60")).unwrap();
        child.signal(libc::SIGTERM).unwrap();
        let status = child.wait_for_exit().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    });
}

#[test]
fn a_signal_after_the_reap_is_refused_even_before_the_status_arrives() {
    run(|| async {
        let child = Rc::new(Subprocess::spawn(&mut Command::new("true")).unwrap());
        // A check hook runs after the handlers of each iteration: on the
        // one where the loop reaps the child, before its status callback.
        let refused = Rc::new(Cell::new(None));
        let (c, r) = (child.clone(), refused.clone());
        let hook = IOLoop::current().add_check(move |hook| {
            if c.exit_status().is_none() && !is_unreaped_child(c.pid()) {
                r.set(Some(c.signal(libc::SIGTERM).unwrap_err().kind()));
                hook.stop();
            }
        });
        child.wait_for_exit().await.unwrap();
        hook.stop();
        assert_eq!(
            refused.get(),
            Some(ErrorKind::InvalidInput),
            "the pid is no longer ours to signal"
        );
    });
}

#[test]
fn stderr_is_captured_apart_from_stdout() {
    run(|| async {
        let child = sh("echo out; echo err >&2; echo more out");
        let (out, err) = futures::join!(
            child.stdout().unwrap().read_until_close(),
            child.stderr().unwrap().read_until_close(),
        );
        assert_eq!(out.unwrap(), b"out\nmore out\n");
        assert_eq!(err.unwrap(), b"err\n");
        assert!(child.wait_for_exit().await.unwrap().success());
    });
}

#[test]
fn a_large_payload_through_cat_written_and_read_by_two_tasks() {
    const SIZE: usize = 4 << 20;
    run(|| async {
        let payload: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
        // The whole output is read at once: over the default read limit.
        let cat = SubprocessOptions::new()
            .stream_options(StreamOptions::new().max_buffer_size(2 * SIZE))
            .spawn(
                Command::new("cat")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped()),
            )
            .unwrap();
        let ioloop = IOLoop::current();
        let stdin = cat.stdin().unwrap().clone();
        let expected = payload.clone();
        let writer = ioloop.spawn(async move {
            stdin.write(&payload).await.unwrap();
            stdin.close();
        });
        let stdout = cat.stdout().unwrap().clone();
        let reader = ioloop.spawn(async move { stdout.read_until_close().await.unwrap() });
        writer.await.unwrap();
        let output = reader.await.unwrap();
        assert_eq!(output.len(), SIZE);
        assert!(output == expected, "content intact");
        assert!(cat.wait_for_exit().await.unwrap().success());
    });
}

#[test]
fn twenty_concurrent_subprocesses_all_complete() {
    run(|| async {
        let children: Vec<_> = (0..20).map(|_| cat()).collect();
        let rounds = children.iter().enumerate().map(|(i, child)| async move {
            let line = format!("child {i}\n");
            let stdin = child.stdin().unwrap();
            stdin.write(line.as_bytes()).await.unwrap();
            stdin.close();
            let output = child.stdout().unwrap().read_until_close().await.unwrap();
            assert_eq!(output, line.as_bytes());
            child.wait_for_exit_checked().await.unwrap()
        });
        let statuses = futures::future::join_all(rounds).await;
        assert_eq!(statuses.len(), 20);
        for (child, status) in children.iter().zip(statuses) {
            assert!(status.success());
            assert!(!is_unreaped_child(child.pid()), "reaped");
        }
    });
}

#[test]
fn several_waiters_and_a_late_waiter_all_get_the_status() {
    run(|| async {
        let child = Subprocess::spawn(Command::new("sh").args(["-c", "exit 7"])).unwrap();
        let early = child.wait_for_exit();
        let (a, b, c) = futures::join!(early, child.wait_for_exit(), child.wait_for_exit());
        for status in [a, b, c] {
            assert_eq!(status.unwrap().code(), Some(7));
        }
        // After the exit: ready at the first poll, without the loop.
        let late = child.wait_for_exit().now_or_never().expect("ready at once");
        assert_eq!(late.unwrap().code(), Some(7));
        let checked = child.wait_for_exit_checked().now_or_never().expect("ready");
        assert!(checked.is_err());
    });
}

#[test]
fn a_wait_future_may_outlive_its_subprocess() {
    run(|| async {
        let child = Subprocess::spawn(Command::new("sh").args(["-c", "exit 4"])).unwrap();
        let wait = child.wait_for_exit();
        drop(child);
        assert_eq!(wait.await.unwrap().code(), Some(4));
    });
}

#[test]
fn the_exit_callback_runs_on_the_loop() {
    run(|| async {
        let ioloop = IOLoop::current();
        let child = Subprocess::spawn(Command::new("sh").args(["-c", "exit 5"])).unwrap();
        let seen: Rc<RefCell<Vec<(&str, ExitStatus)>>> = Rc::default();
        let s = seen.clone();
        child
            .set_exit_callback(move |_| s.borrow_mut().push(("replaced", ExitStatus::default())))
            .unwrap();
        let s = seen.clone();
        let l = ioloop.clone();
        child
            .set_exit_callback(move |status| {
                assert!(IOLoop::current().ptr_eq(&l), "on the loop");
                s.borrow_mut().push(("callback", status));
            })
            .unwrap();
        let status = child.wait_for_exit().await.unwrap();
        assert_eq!(*seen.borrow(), [("callback", status)], "only the last one");
        assert_eq!(status.code(), Some(5));

        // After the exit: on the next iteration, not within the call.
        let s = seen.clone();
        child
            .set_exit_callback(move |status| s.borrow_mut().push(("late", status)))
            .unwrap();
        assert_eq!(seen.borrow().len(), 1, "not called synchronously");
        ioloop::yield_now().await;
        ioloop::yield_now().await;
        assert_eq!(seen.borrow()[1], ("late", status));
    });
}

#[test]
fn the_exit_callback_runs_after_the_subprocess_is_dropped() {
    let ioloop = new_loop();
    let status = Rc::new(Cell::new(None));
    let s = status.clone();
    let child = Subprocess::spawn(Command::new("sh").args(["-c", "exit 6"])).unwrap();
    child.set_exit_callback(move |st| s.set(Some(st))).unwrap();
    drop(child);
    run_until_idle(&ioloop);
    assert_eq!(status.get().unwrap().code(), Some(6));
    ioloop.close(true).unwrap();
}

#[test]
fn no_zombie_is_left_after_the_exit() {
    run(|| async {
        let child = sh("exit 0");
        let pid = child.pid();
        child.wait_for_exit().await.unwrap();
        assert!(
            !is_unreaped_child(pid),
            "waitid: pid {pid} is no child of ours"
        );
    });
}

#[test]
fn a_subprocess_dropped_before_its_exit_is_still_reaped() {
    let ioloop = new_loop();
    // cat exits when its stdin, closed by the drop, reaches end of file.
    let child = cat();
    let pid = child.pid();
    drop(child);
    assert!(is_unreaped_child(pid), "still running or unreaped");
    run_until_idle(&ioloop); // the watcher keeps run going until the reap
    assert!(!is_unreaped_child(pid), "reaped by the loop");
    ioloop.close(true).unwrap();
}

#[test]
fn kill_on_drop_kills_and_the_loop_reaps() {
    let ioloop = new_loop();
    let child = SubprocessOptions::new()
        .kill_on_drop(true)
        .spawn(Command::new("sleep").arg("60"))
        .unwrap();
    let pid = child.pid();
    drop(child);
    run_until_idle(&ioloop); // well before the sleep's 60 s
    assert!(!is_unreaped_child(pid));
    ioloop.close(true).unwrap();
}

#[test]
fn dropping_without_kill_on_drop_leaves_the_child_running() {
    let ioloop = new_loop();
    let child = Subprocess::spawn(Command::new("sleep").arg("60")).unwrap();
    let pid = child.pid();
    let watcher = child.wait_for_exit();
    drop(child);
    assert!(ioloop.is_alive(), "the watcher keeps run going");
    assert!(ioloop.set_child_ref(pid, false));
    run_until_idle(&ioloop); // returns: nothing referenced is left
    assert!(is_unreaped_child(pid), "still running");
    // Stop it by pid, then let the loop reap it.
    crate::util::sys::kill(pid, libc::SIGKILL);
    let status = ioloop
        .run_sync(|| watcher, Some(Duration::from_secs(20)))
        .unwrap()
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    ioloop.close(true).unwrap();
}

#[test]
fn a_write_to_a_child_that_exited_fails_with_broken_pipe() {
    run(|| async {
        let child = Subprocess::spawn(
            Command::new("true")
                .stdin(Stdio::piped())
                .stdout(Stdio::null()),
        )
        .unwrap();
        child.wait_for_exit().await.unwrap();
        let stdin = child.stdin().unwrap();
        // A child spawned meanwhile by another test's thread may hold the
        // pipe's read end from its fork to its exec: writes fill the pipe
        // until that end is gone too, then fail.
        let chunk = [0u8; 4096];
        let err = loop {
            if let Err(err) = stdin.write(&chunk).await {
                break err;
            }
        };
        let closed = StreamClosedError::find(&err).expect("a stream-closed error");
        assert_eq!(
            closed.cause().map(std::io::Error::kind),
            Some(ErrorKind::BrokenPipe),
            "{err}"
        );
        assert!(stdin.closed());
    });
}

#[test]
fn output_written_before_the_exit_stays_readable_after_it() {
    run(|| async {
        let child = sh("echo last words");
        child.wait_for_exit().await.unwrap();
        assert_eq!(
            child.stdout().unwrap().read_until_close().await.unwrap(),
            b"last words\n"
        );
    });
}

#[test]
fn a_background_grandchild_keeps_stdout_open_after_the_exit() {
    run(|| async {
        // The grandchild holds stdout until it is done (its stdin, our
        // pipe, reaches end of file): exit comes first, then end of file.
        // (Through fd 3: a background job's stdin is /dev/null otherwise.)
        let child = Subprocess::spawn(
            Command::new("sh")
                .args(["-c", "exec 3<&0; cat <&3 3<&- & echo started"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        )
        .unwrap();
        let stdout = child.stdout().unwrap();
        assert_eq!(
            stdout.read_until(b"\n", Some(100)).await.unwrap(),
            b"started\n"
        );
        assert!(child.wait_for_exit().await.unwrap().success());
        assert!(!stdout.closed(), "the grandchild still has it");
        let stdin = child.stdin().unwrap();
        stdin.write(b"from the grandchild").await.unwrap();
        stdin.close();
        assert_eq!(
            stdout.read_until_close().await.unwrap(),
            b"from the grandchild"
        );
    });
}

#[test]
fn spawning_a_missing_program_is_an_error_naming_it() {
    run(|| async {
        let err = Subprocess::spawn(&mut Command::new("/nonexistent/program")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("/nonexistent/program"), "{err}");
    });
}

#[test]
fn options_set_the_loop_and_the_stream_limits() {
    let ioloop = new_loop();
    IOLoop::clear_current();
    // No current loop: the options name it.
    let child = SubprocessOptions::new()
        .ioloop(&ioloop)
        .stream_options(StreamOptions::new().max_buffer_size(1000))
        .spawn(
            Command::new("head")
                .args(["-c", "5000", "/dev/zero"])
                .stdout(Stdio::piped()),
        )
        .unwrap();
    let stdout = child.stdout().unwrap().clone();
    assert!(stdout.ioloop().ptr_eq(&ioloop));
    let err = ioloop
        .run_sync(
            || async move { stdout.read_until_close().await },
            Some(Duration::from_secs(20)),
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidData,
        "over max_buffer_size: {err}"
    );
    // head may die of the closed pipe or finish first: either way it exits.
    ioloop
        .run_sync(|| child.wait_for_exit(), Some(Duration::from_secs(20)))
        .unwrap()
        .unwrap();
    ioloop.close(true).unwrap();
}

#[test]
fn debug_shows_the_program_and_pid() {
    run(|| async {
        let child = Subprocess::spawn(&mut Command::new("true")).unwrap();
        let shown = format!("{child:?}");
        assert!(
            shown.contains("\"true\"") && shown.contains(&child.pid().to_string()),
            "{shown}"
        );
        child.wait_for_exit().await.unwrap();
    });
}
