//! The blocking watchdog's stack capture under stress: the loop thread is
//! interrupted thousands of times while it unwinds panics (with and
//! without unwind information registered through `__register_frame`, as
//! JIT runtimes do), allocates, loads and unloads shared objects, walks
//! the loaded objects with `dl_iterate_phdr`, and takes backtraces of its
//! own. Not one run may crash or hang.
//!
//! `harness = false`: each case runs [`RUNS`] child processes (copies of
//! this binary, `IOLOOP_STRESS_CHILD=<case>`), two at a time, each under a
//! wall-clock bound: a child still running then is killed and counted as
//! a hang. A child runs one loop whose callbacks each do the case's work
//! for [`CALLBACK_WORK`], under a 1 ms threshold, so each callback is
//! interrupted for its stack up to four times, for [`CHILD_RUN`] in all;
//! it prints how many stacks it captured, and the parent checks the
//! total.
//!
//! `cargo test -p integration-tests --test watchdog_stress [-- <case>]`;
//! `IOLOOP_STRESS_RUNS` and `IOLOOP_STRESS_MS` change the number of
//! children per case and how long each one works.

use std::collections::BTreeSet;
use std::io::Read;
use std::panic;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ioloop::{BlockingAction, IOLoop, MakeCurrent, StackCapture};

/// Child processes per case.
const RUNS: usize = 20;
/// How long each child keeps its loop busy.
const CHILD_RUN: Duration = Duration::from_millis(500);
/// A child still running after this is hung (it needs about `CHILD_RUN`).
const CHILD_LIMIT: Duration = Duration::from_secs(20);
/// How long one callback works: many thresholds, so that it is reported
/// (and its stack captured) at 1, 2, 4 and 8 ms, even on a loaded machine
/// where the watchdog thread waits for the processor.
const CALLBACK_WORK: Duration = Duration::from_millis(15);
const THRESHOLD: Duration = Duration::from_millis(1);
const CHILD: &str = "IOLOOP_STRESS_CHILD";

/// The cases: a name and the work a callback repeats.
const CASES: &[(&str, fn())] = &[
    ("panic_unwinding", unwind_a_panic),
    ("registered_frames", unwind_a_panic),
    ("malloc", allocate),
    ("dlopen_dlclose", load_and_unload),
    ("dl_iterate_phdr", iterate_loaded_objects),
    ("backtrace_new", take_a_backtrace),
];

fn main() {
    if let Ok(case) = std::env::var(CHILD) {
        child(&case);
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in CASES {
            println!("{name}: test");
        }
        return;
    }
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let runs = env_number("IOLOOP_STRESS_RUNS").unwrap_or(RUNS);
    let selected: Vec<_> = CASES
        .iter()
        .filter(|(name, _)| filter.is_none_or(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let mut failed = 0;
    for (name, _) in &selected {
        let started = Instant::now();
        let outcome = run_case(name, runs);
        let verdict = if outcome.is_clean(runs) {
            "ok"
        } else {
            "FAILED"
        };
        println!(
            "test {name} ... {verdict} ({runs} runs in {:.1} s: {} stacks captured, {} without, \
             {} crashed, {} hung)",
            started.elapsed().as_secs_f64(),
            outcome.captured,
            outcome.skipped,
            outcome.crashed.len(),
            outcome.hung,
        );
        for crash in &outcome.crashed {
            println!("    {crash}");
        }
        if !outcome.is_clean(runs) {
            failed += 1;
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        selected.len() - failed,
        failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

#[derive(Default)]
struct Outcome {
    captured: u64,
    skipped: u64,
    crashed: Vec<String>,
    hung: usize,
}

impl Outcome {
    /// No crash, no hang, and the stack was captured: thousands of times
    /// on an idle machine (up to four per callback of `CALLBACK_WORK`), of
    /// which one per four callbacks is required, for a loaded one where
    /// the watchdog thread waits for the processor.
    fn is_clean(&self, runs: usize) -> bool {
        let child_run =
            env_number("IOLOOP_STRESS_MS").map_or(CHILD_RUN, |ms| Duration::from_millis(ms as u64));
        let callbacks = runs as u128 * child_run.as_millis() / CALLBACK_WORK.as_millis();
        self.crashed.is_empty() && self.hung == 0 && u128::from(self.captured) >= callbacks / 4
    }
}

/// Runs `runs` children for `case`, two at a time.
fn run_case(case: &str, runs: usize) -> Outcome {
    let mut outcome = Outcome::default();
    let mut running: Vec<(Child, Instant)> = Vec::new();
    let mut started = 0;
    while started < runs || !running.is_empty() {
        while started < runs && running.len() < 2 {
            let child = Command::new(std::env::current_exe().expect("current exe"))
                .env(CHILD, case)
                .env_remove("RUST_LOG")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a child");
            running.push((child, Instant::now()));
            started += 1;
        }
        let mut i = 0;
        while i < running.len() {
            let (child, since) = &mut running[i];
            match child.try_wait().expect("wait for a child") {
                Some(status) => {
                    let (mut out, mut err) = (String::new(), String::new());
                    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
                    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                    if status.success() {
                        let (captured, skipped) = parse_counts(&out);
                        outcome.captured += captured;
                        outcome.skipped += skipped;
                    } else {
                        let tail: String =
                            err.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
                        outcome.crashed.push(format!("{status}: {tail}"));
                    }
                    running.swap_remove(i);
                }
                None if since.elapsed() > CHILD_LIMIT => {
                    // Our own child, by its handle.
                    let _ = child.kill();
                    let _ = child.wait();
                    outcome.hung += 1;
                    running.swap_remove(i);
                }
                None => i += 1,
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    outcome
}

fn parse_counts(out: &str) -> (u64, u64) {
    let number = |key: &str| {
        out.split_whitespace()
            .skip_while(|w| *w != key)
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (number("captured"), number("skipped"))
}

// ----- the child ---------------------------------------------------------------

fn child(case: &str) {
    let work = CASES
        .iter()
        .find(|(name, _)| *name == case)
        .unwrap_or_else(|| panic!("unknown case {case}"))
        .1;
    // The panics are the point: keep them quiet.
    panic::set_hook(Box::new(|_| {}));
    if case == "registered_frames" {
        register_jit_frames(10);
    }
    // Load this binary's debug information before the clock starts, as
    // the watchdog's reports need it: in a debug build that takes most of
    // a second, during which reports would wait.
    std::hint::black_box(backtrace::Backtrace::new());
    let child_run =
        env_number("IOLOOP_STRESS_MS").map_or(CHILD_RUN, |ms| Duration::from_millis(ms as u64));

    let captured = Arc::new(AtomicU64::new(0));
    let skipped = Arc::new(AtomicU64::new(0));
    let reasons = Arc::new(Mutex::new(BTreeSet::new()));
    let (c, s, r) = (captured.clone(), skipped.clone(), reasons.clone());
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .expect("loop");
    ioloop
        .set_blocking_signal_threshold(
            Some(THRESHOLD),
            BlockingAction::custom(move |report| match report.stack() {
                StackCapture::Captured(_) => {
                    c.fetch_add(1, Ordering::Relaxed);
                }
                StackCapture::Unavailable(reason) => {
                    s.fetch_add(1, Ordering::Relaxed);
                    r.lock().unwrap().insert(reason.clone());
                }
                _ => {
                    s.fetch_add(1, Ordering::Relaxed);
                }
            }),
        )
        .expect("watchdog");
    let until = Instant::now() + child_run;
    fn next(l: IOLoop, until: Instant, work: fn()) {
        let start = Instant::now();
        while start.elapsed() < CALLBACK_WORK {
            work();
        }
        if Instant::now() >= until {
            l.stop();
        } else {
            let again = l.clone();
            l.add_callback(move || next(again, until, work));
        }
    }
    let l = ioloop.clone();
    ioloop.add_callback(move || next(l, until, work));
    ioloop.start().expect("start");
    ioloop.close(true).expect("close");
    println!(
        "captured {} skipped {}",
        captured.load(Ordering::Relaxed),
        skipped.load(Ordering::Relaxed)
    );
    for reason in reasons.lock().unwrap().iter() {
        eprintln!("no stack: {reason}");
    }
}

#[inline(never)]
fn unwind_a_panic() {
    let _ = panic::catch_unwind(|| panic!("stress"));
}

#[inline(never)]
fn allocate() {
    let mut kept = Vec::new();
    for size in [16, 100, 4000, 70_000, 300_000] {
        kept.push(std::hint::black_box(vec![1u8; size]));
    }
    drop(kept);
}

#[inline(never)]
fn load_and_unload() {
    sys::load_and_unload();
}

#[inline(never)]
fn iterate_loaded_objects() {
    std::hint::black_box(sys::count_loaded_objects());
}

#[inline(never)]
fn take_a_backtrace() {
    std::hint::black_box(backtrace::Backtrace::new());
}

/// Registers `count` objects' unwind information with libgcc's
/// `__register_frame`, as a JIT runtime does for the code it generates.
fn register_jit_frames(count: usize) {
    for _ in 0..count {
        // The "generated code": a page nobody runs.
        let code: &'static [u8] = Box::leak(vec![0xc3u8; 4096].into_boxed_slice());
        let frames: &'static [u8] = Box::leak(eh_frame_for(code).into_boxed_slice());
        sys::register_frame(frames);
    }
}

/// An `.eh_frame` section (one CIE, one FDE covering `code`, the zero
/// terminator) in the form `__register_frame` takes.
fn eh_frame_for(code: &[u8]) -> Vec<u8> {
    let mut cie = vec![0, 0, 0, 0]; // CIE id
    cie.push(1); // version
    cie.extend_from_slice(b"zR\0");
    cie.push(1); // code alignment factor
    cie.push(0x78); // data alignment factor: -8
    cie.push(16); // return address register (x86_64 rip)
    cie.push(1); // augmentation data length
    cie.push(0x00); // FDE pointers: absolute, 8 bytes
    cie.extend_from_slice(&[0x0c, 7, 8]); // DW_CFA_def_cfa rsp+8
    cie.extend_from_slice(&[0x90, 1]); // DW_CFA_offset r16 at cfa-8
    while (cie.len() + 4) % 8 != 0 {
        cie.push(0); // DW_CFA_nop
    }
    let mut out = Vec::new();
    out.extend_from_slice(&(cie.len() as u32).to_le_bytes());
    out.extend_from_slice(&cie);

    let fde_start = out.len();
    let mut fde = Vec::new();
    // Offset from this field back to the CIE.
    fde.extend_from_slice(&((fde_start + 4) as u32).to_le_bytes());
    fde.extend_from_slice(&(code.as_ptr() as u64).to_le_bytes());
    fde.extend_from_slice(&(code.len() as u64).to_le_bytes());
    fde.push(0); // augmentation data length
    while (fde.len() + 4) % 8 != 0 {
        fde.push(0);
    }
    out.extend_from_slice(&(fde.len() as u32).to_le_bytes());
    out.extend_from_slice(&fde);
    out.extend_from_slice(&[0, 0, 0, 0]); // terminator
    out
}

#[allow(unsafe_code)]
mod sys {
    use std::ffi::CStr;

    unsafe extern "C" {
        fn __register_frame(begin: *const u8);
    }

    /// Hands `frames` (an `.eh_frame` section, alive for good) to libgcc.
    pub(crate) fn register_frame(frames: &'static [u8]) {
        // SAFETY: `frames` is a well-formed `.eh_frame` section ending in a
        // zero terminator, leaked so that it outlives the process's use of
        // it; libgcc only reads it.
        unsafe { __register_frame(frames.as_ptr()) }
    }

    /// Shared objects of the C library that a Rust program does not load
    /// by itself: one of them is loaded and unloaded.
    const LIBRARIES: &[&CStr] = &[c"libthread_db.so.1", c"libresolv.so.2", c"libanl.so.1"];

    pub(crate) fn load_and_unload() {
        for name in LIBRARIES {
            // SAFETY: `name` is a NUL-terminated string; these libraries
            // have no constructors with preconditions.
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if !handle.is_null() {
                // SAFETY: `handle` was returned by dlopen just above.
                unsafe { libc::dlclose(handle) };
                return;
            }
        }
        panic!("none of {LIBRARIES:?} could be loaded");
    }

    pub(crate) fn count_loaded_objects() -> usize {
        unsafe extern "C" fn count(
            _info: *mut libc::dl_phdr_info,
            _size: libc::size_t,
            data: *mut libc::c_void,
        ) -> libc::c_int {
            // SAFETY: `data` is the `&mut usize` passed below, alive for
            // the whole dl_iterate_phdr call.
            unsafe { *data.cast::<usize>() += 1 };
            0
        }
        let mut n = 0usize;
        // SAFETY: `count` matches dl_iterate_phdr's callback type and only
        // touches `n` through `data`.
        unsafe { libc::dl_iterate_phdr(Some(count), (&raw mut n).cast()) };
        n
    }
}
