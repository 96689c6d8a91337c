//! SIGINT, SIGTERM and SIGHUP while goscope holds a process paused: the handler only records the
//! signal; the code that holds the pause checks [`interrupted`] between steps, resumes the
//! process and returns [`super::LiveError::Interrupted`]. The handler is reset after the first
//! signal, so a second one ends goscope at once — and the kernel detaches its tracees as it
//! exits, which resumes them.
//!
//! A panic unwinds through the [`super::Frozen`] guard, which detaches; the panic hook installed
//! here says so after the usual message.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// Processes paused right now (for the panic hook's message).
pub(crate) static PAUSED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn record(sig: nix::libc::c_int) {
    // Async-signal-safe: one atomic store.
    RECEIVED.store(sig, Ordering::SeqCst);
}

/// Installs the handlers and the panic hook. Call once, before pausing anything.
pub fn install() {
    let action = SigAction::new(
        SigHandler::Handler(record),
        SaFlags::SA_RESTART | SaFlags::SA_RESETHAND,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler performs a single atomic store, which is async-signal-safe, and
        // touches no other state; replacing the default disposition has no other effect.
        let _ = unsafe { sigaction(sig, &action) };
    }
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        if PAUSED.load(Ordering::SeqCst) > 0 {
            eprintln!(
                "goscope: the paused process is being detached and resumed as goscope unwinds"
            );
        }
    }));
}

/// Installs the handlers for a debugging session: without `SA_RESTART`, so that a wait for the
/// program (`waitpid`) returns at once with `EINTR`, and without resetting after the first
/// signal — a debugger that dies leaves int3s behind, so every signal goes through the clean
/// exit. Also the panic hook of [`install`].
pub fn install_for_debugger() {
    install();
    let action = SigAction::new(
        SigHandler::Handler(record),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: as in `install`: the handler is one atomic store.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

extern "C" fn wake(_: nix::libc::c_int) {}

/// Interrupts a blocking wait (`waitpid` under [`install_for_debugger`]) after `d`, rounded up
/// to whole seconds, with SIGALRM, whose handler does nothing else.
pub fn wake_after(d: std::time::Duration) {
    let action = SigAction::new(SigHandler::Handler(wake), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler does nothing, which is async-signal-safe.
    let _ = unsafe { sigaction(Signal::SIGALRM, &action) };
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    nix::unistd::alarm::set(secs.clamp(1, u64::from(u32::MAX)) as u32);
}

/// The signal received since the last call (or since [`install`]), clearing it.
pub fn take() -> Option<Signal> {
    match RECEIVED.swap(0, Ordering::SeqCst) {
        0 => None,
        s => Signal::try_from(s).ok(),
    }
}

/// Gives SIGINT, SIGTERM and SIGHUP back their default action, for the part of a command that
/// holds nothing to undo (the analysis after the process was resumed): Ctrl-C then ends
/// goscope at once.
pub fn restore_default() {
    let action = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: restoring the default disposition installs no handler code.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// The signal received since [`install`], if any.
pub fn interrupted() -> Option<Signal> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Signal::try_from(s).ok(),
    }
}

/// The exit status a shell expects after signal `sig`: 128 + its number.
pub fn exit_status(sig: Signal) -> u8 {
    128u8.saturating_add(sig as i32 as u8)
}
