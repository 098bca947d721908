//! A future wrapper that contains panics raised while the future is dropped.
//!
//! The host drops a module's future when a callback times out or a client goes away.
//! async-ffi runs that drop under an abort-on-panic guard, so a module future whose `Drop`
//! panics would end the whole server. Wrapping every future the SDK hands over in
//! [`DropGuarded`] catches such a panic on the module's side of the boundary.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// See the module docs.
pub struct DropGuarded<F>(ManuallyDrop<F>);

impl<F> DropGuarded<F> {
    /// Wrap `inner`.
    pub fn new(inner: F) -> Self {
        DropGuarded(ManuallyDrop::new(inner))
    }
}

impl<F: Future> Future for DropGuarded<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: the inner future is structurally pinned: it is never moved out of `self.0`
        // (it is only ever dropped in place, in `Drop` below), so projecting the pin is sound.
        unsafe { self.map_unchecked_mut(|s| &mut *s.0) }.poll(cx)
    }
}

impl<F> Drop for DropGuarded<F> {
    fn drop(&mut self) {
        let inner = &mut self.0;
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `self.0` is dropped exactly once, here, in place (never moved), and
            // `self` is not used afterwards.
            unsafe { ManuallyDrop::drop(inner) }
        }));
    }
}

/// A callback's future as handed to the host: polls the module's future under
/// `catch_unwind`, converts its output with `finish`, and guards its own drop — one flat
/// future instead of several nested wrappers, because this sits on every callback call.
pub struct CallFuture<F, C> {
    inner: ManuallyDrop<F>,
    finish: Option<C>,
}

impl<F, C> CallFuture<F, C> {
    /// Wrap `inner`; `finish` turns its output into the answer.
    pub fn new(inner: F, finish: C) -> Self {
        CallFuture {
            inner: ManuallyDrop::new(inner),
            finish: Some(finish),
        }
    }
}

impl<F, C, O> Future for CallFuture<F, C>
where
    F: Future,
    C: FnOnce(std::thread::Result<F::Output>) -> O + Unpin,
{
    type Output = O;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O> {
        // SAFETY: `inner` is structurally pinned (never moved; dropped in place in `Drop`);
        // `finish` is not pinned and only taken out by value, which `Unpin` allows.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above, `inner` stays where it is for the life of `self`.
        let inner = unsafe { Pin::new_unchecked(&mut *this.inner) };
        let polled = catch_unwind(AssertUnwindSafe(|| inner.poll(cx)));
        let outcome = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(out)) => Ok(out),
            Err(payload) => Err(payload),
        };
        match this.finish.take() {
            Some(finish) => Poll::Ready(finish(outcome)),
            // Polled again after completion: a host bug; stay pending rather than panic.
            None => Poll::Pending,
        }
    }
}

impl<F, C> Drop for CallFuture<F, C> {
    fn drop(&mut self) {
        let inner = &mut self.inner;
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: dropped exactly once, here, in place; `self` is not used afterwards.
            unsafe { ManuallyDrop::drop(inner) }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("boom in drop");
        }
    }

    #[test]
    fn a_panic_while_dropping_the_future_is_contained() {
        let witness = PanicsOnDrop;
        let fut = DropGuarded::new(async move {
            let _keep = &witness;
            std::future::pending::<()>().await;
        });
        drop(fut); // would unwind (and, across the FFI boundary, abort) without the guard
    }
}
