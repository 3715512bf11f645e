//! The view builder: one background thread that runs build steps (see
//! [`crate::views`]) for views still building, taking the engine lock once
//! per step so other callers run between steps.
//!
//! Owns: the thread, waking it when a view starts building, stopping it
//! when the store closes, and letting callers wait for progress. Does not
//! own what a step does ([`Engine::build_step`]).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use eddy_wal::Wal;

use crate::clock::Clock;
use crate::engine::Engine;

/// Handle to the builder thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub(crate) struct Builder {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Signal {
    flags: Mutex<Flags>,
    /// The thread waits here for work.
    wake: Condvar,
    /// Callers of [`Builder::wait`] wait here for the next step.
    progress: Condvar,
}

#[derive(Debug, Default)]
struct Flags {
    work: bool,
    stop: bool,
}

impl Signal {
    fn lock(&self) -> MutexGuard<'_, Flags> {
        self.flags.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Builder {
    /// Starts the thread.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub(crate) fn start(
        engine: Arc<Mutex<Engine>>,
        wal: Arc<Wal>,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Builder> {
        let signal = Arc::new(Signal::default());
        let s = Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name("eddy-view-builder".into())
            .spawn(move || run(&s, &engine, &wal, clock.as_ref()))?;
        Ok(Builder {
            signal,
            thread: Some(thread),
        })
    }

    /// A view started building: run steps until none is left.
    pub(crate) fn kick(&self) {
        self.signal.lock().work = true;
        self.signal.wake.notify_one();
    }

    /// Waits until the next step ends or `deadline` passes.
    pub(crate) fn wait(&self, deadline: Instant) {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        // A short cap: a step that ended just before this call is not missed
        // for long.
        let d = (deadline - now).min(Duration::from_millis(20));
        let g = self.signal.lock();
        drop(self.signal.progress.wait_timeout(g, d));
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        self.signal.lock().stop = true;
        self.signal.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(signal: &Signal, engine: &Mutex<Engine>, wal: &Wal, clock: &dyn Clock) {
    loop {
        {
            let mut f = signal.lock();
            while !f.work && !f.stop {
                f = signal.wake.wait(f).unwrap_or_else(|p| p.into_inner());
            }
            if f.stop {
                return;
            }
            f.work = false;
        }
        loop {
            let more = {
                let mut eng = engine.lock().unwrap_or_else(|p| p.into_inner());
                if eng.poisoned {
                    break;
                }
                eng.views.now_ms = clock.now_ms();
                eng.build_step(wal, None)
            };
            // With buffered writes nobody else may write the step records
            // soon; they need no fsync (a lost step is redone after a crash).
            let flushed = wal.flush();
            signal.progress.notify_all();
            if !matches!((more, flushed), (Ok(true), Ok(()))) || signal.lock().stop {
                break;
            }
            std::thread::yield_now();
        }
    }
}
