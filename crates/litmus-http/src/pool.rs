//! An endpoint pool: several servers of one logical model, each with its own
//! concurrency limit, a least-outstanding-work choice among the healthy ones,
//! and a circuit breaker that takes an endpoint out for a cool-down after a
//! connection failure, or after [`STATUS_STRIKES`] overload answers in a row
//! (5xx, 429; at once when the server names its `Retry-After`), and then lets
//! one probe request through (half-open).
//!
//! The per-endpoint limits are counting semaphores sharing one `Mutex` and
//! one `Condvar`, so that a request can wait for *any* endpoint to free up.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::display_url;

/// Overload answers in a row (5xx, 429, 408) that take an endpoint out like
/// a connection failure: a server that keeps failing fast would otherwise
/// draw the most work, having the least in flight.
pub const STATUS_STRIKES: u32 = 3;

/// The health of one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    /// Takes requests up to its limit.
    Up,
    /// Out of the pool until the instant; then one probe is let through.
    Down(Instant),
    /// A probe request is in flight; nothing else is sent until it ends.
    Probing,
}

#[derive(Debug)]
struct Slot {
    url: String,
    limit: usize,
    in_flight: usize,
    health: Health,
    consecutive_failures: u32,
    /// Overload answers since the last success.
    consecutive_statuses: u32,
    completed: u64,
    failures: u64,
    last_error: Option<String>,
}

#[derive(Debug)]
struct State {
    slots: Vec<Slot>,
    /// Where the next tie-break starts, so that idle endpoints share the load.
    cursor: usize,
}

/// Several endpoints serving one model. See the module documentation.
#[derive(Debug)]
pub struct Pool {
    state: Mutex<State>,
    freed: Condvar,
    cooldown: Duration,
}

/// A snapshot of one endpoint's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointStats {
    /// Base URL (without credentials).
    pub url: String,
    /// Most requests in flight at once.
    pub limit: usize,
    /// Requests in flight now.
    pub in_flight: usize,
    /// Whether it takes requests now (up, or cooled down and ready for a probe).
    pub healthy: bool,
    /// Requests finished without a connection failure or overload answer.
    pub completed: u64,
    /// Failures that took it out so far: connection failures, and overload
    /// answers that started a cool-down.
    pub failures: u64,
    /// The last such failure.
    pub last_error: Option<String>,
}

/// No endpoint can take a request now: all are cooling down after failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable {
    /// When the first endpoint will take a probe.
    pub retry_in: Duration,
    /// The most recent failure, for the error message.
    pub last_error: String,
}

/// The right to send one request to one endpoint. Dropping it frees the slot;
/// call [`Lease::failed`] instead when the endpoint could not be reached.
#[derive(Debug)]
pub struct Lease<'a> {
    pool: &'a Pool,
    index: usize,
    url: String,
    probe: bool,
    done: bool,
}

impl Pool {
    /// A pool of `(base URL, limit)` endpoints. Limits below 1 count as 1.
    pub fn new(endpoints: Vec<(String, usize)>, cooldown: Duration) -> Self {
        assert!(
            !endpoints.is_empty(),
            "an endpoint pool needs at least one endpoint"
        );
        let slots = endpoints
            .into_iter()
            .map(|(url, limit)| Slot {
                url,
                limit: limit.max(1),
                in_flight: 0,
                health: Health::Up,
                consecutive_failures: 0,
                consecutive_statuses: 0,
                completed: 0,
                failures: 0,
                last_error: None,
            })
            .collect();
        Pool {
            state: Mutex::new(State { slots, cursor: 0 }),
            freed: Condvar::new(),
            cooldown,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent counters behind.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of endpoints.
    pub fn len(&self) -> usize {
        self.lock().slots.len()
    }

    /// Whether the pool has no endpoint (never: [`Pool::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sum of the endpoint limits.
    pub fn capacity(&self) -> usize {
        self.lock().slots.iter().map(|s| s.limit).sum()
    }

    /// The base URLs.
    pub fn urls(&self) -> Vec<String> {
        self.lock().slots.iter().map(|s| s.url.clone()).collect()
    }

    /// A snapshot of every endpoint.
    pub fn stats(&self) -> Vec<EndpointStats> {
        let now = Instant::now();
        self.lock()
            .slots
            .iter()
            .map(|s| EndpointStats {
                url: display_url(&s.url),
                limit: s.limit,
                in_flight: s.in_flight,
                healthy: match s.health {
                    Health::Up | Health::Probing => true,
                    Health::Down(until) => until <= now,
                },
                completed: s.completed,
                failures: s.failures,
                last_error: s.last_error.clone(),
            })
            .collect()
    }

    /// Marks endpoint `index` as failed (e.g. unreachable when the backend opened).
    pub fn mark_down(&self, index: usize, error: &str) {
        let mut st = self.lock();
        let cooldown = self.cooldown;
        fail_slot(&mut st.slots[index], cooldown, error);
    }

    /// Whether some endpoint is up: taking requests, or probed right now.
    pub fn has_up(&self) -> bool {
        self.lock()
            .slots
            .iter()
            .any(|s| matches!(s.health, Health::Up | Health::Probing))
    }

    /// Whether some endpoint would take a request without waiting for a cool-down.
    pub fn has_available(&self) -> bool {
        let now = Instant::now();
        self.lock().slots.iter().any(|s| match s.health {
            Health::Up | Health::Probing => true,
            Health::Down(until) => until <= now,
        })
    }

    /// Waits for a free slot on the healthy endpoint with the least requests
    /// in flight (an endpoint whose cool-down is over gets a probe first).
    /// Returns at once with [`Unavailable`] when every endpoint is cooling down.
    pub fn acquire(&self) -> Result<Lease<'_>, Unavailable> {
        self.acquire_avoiding(None)
    }

    /// As [`Pool::acquire`], preferring any endpoint other than `avoid` (the
    /// one a retry's previous attempt failed on) that has room now.
    pub fn acquire_avoiding(&self, avoid: Option<usize>) -> Result<Lease<'_>, Unavailable> {
        let mut st = self.lock();
        loop {
            let now = Instant::now();
            let n = st.slots.len();
            // 1. An endpoint whose cool-down is over gets one probe.
            let probe = (0..n).find(|&i| {
                matches!(st.slots[i].health, Health::Down(until) if until <= now)
                    && st.slots[i].in_flight < st.slots[i].limit
            });
            if let Some(i) = probe {
                st.slots[i].health = Health::Probing;
                return Ok(self.lease(&mut st, i, true));
            }
            // 2. The up endpoint with the least outstanding work and room left.
            let start = st.cursor;
            let best = (0..n)
                .map(|k| (start + k) % n)
                .filter(|&i| {
                    st.slots[i].health == Health::Up && st.slots[i].in_flight < st.slots[i].limit
                })
                .min_by(|&a, &b| {
                    let (sa, sb) = (&st.slots[a], &st.slots[b]);
                    // Not the avoided one; fewest in flight; on a tie the
                    // larger spare capacity.
                    (Some(a) == avoid)
                        .cmp(&(Some(b) == avoid))
                        .then(sa.in_flight.cmp(&sb.in_flight))
                        .then((sb.limit - sb.in_flight).cmp(&(sa.limit - sa.in_flight)))
                });
            if let Some(i) = best {
                st.cursor = (i + 1) % n;
                return Ok(self.lease(&mut st, i, false));
            }
            // 3. Nothing free: wait if some endpoint is alive (busy), else give up.
            let alive = st
                .slots
                .iter()
                .any(|s| matches!(s.health, Health::Up | Health::Probing));
            let next_probe = st
                .slots
                .iter()
                .filter_map(|s| match s.health {
                    Health::Down(until) => Some(until.saturating_duration_since(now)),
                    _ => None,
                })
                .min();
            if !alive {
                let last_error = st
                    .slots
                    .iter()
                    .filter_map(|s| s.last_error.clone())
                    .next_back()
                    .unwrap_or_else(|| "endpoint unavailable".to_string());
                return Err(Unavailable {
                    retry_in: next_probe.unwrap_or(self.cooldown),
                    last_error,
                });
            }
            st = match next_probe {
                Some(wait) => {
                    self.freed
                        .wait_timeout(st, wait.max(Duration::from_millis(1)))
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.freed.wait(st).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    fn lease(&self, st: &mut State, index: usize, probe: bool) -> Lease<'_> {
        st.slots[index].in_flight += 1;
        Lease {
            pool: self,
            index,
            url: st.slots[index].url.clone(),
            probe,
            done: false,
        }
    }

    fn release(&self, index: usize, probe: bool, failure: Option<Failure<'_>>) {
        let mut st = self.lock();
        let cooldown = self.cooldown;
        let slot = &mut st.slots[index];
        slot.in_flight -= 1;
        match failure {
            Some(Failure::Unreachable(error)) => fail_slot(slot, cooldown, error),
            Some(Failure::Overloaded(error, retry_after)) => {
                slot.consecutive_statuses += 1;
                match retry_after {
                    // The server says when to come back: not before.
                    Some(wait) => {
                        slot.failures += 1;
                        slot.last_error = Some(error.to_string());
                        slot.health = Health::Down(Instant::now() + wait);
                    }
                    None if probe || slot.consecutive_statuses >= STATUS_STRIKES => {
                        fail_slot(slot, cooldown, error)
                    }
                    None => {}
                }
            }
            None => {
                slot.completed += 1;
                slot.consecutive_statuses = 0;
                if probe {
                    slot.health = Health::Up;
                }
                if slot.health == Health::Up {
                    slot.consecutive_failures = 0;
                }
            }
        }
        drop(st);
        self.freed.notify_all();
    }
}

/// Why a lease ended badly.
enum Failure<'a> {
    /// The endpoint could not be reached.
    Unreachable(&'a str),
    /// It answered 5xx/429/408, maybe naming when to come back.
    Overloaded(&'a str, Option<Duration>),
}

fn fail_slot(slot: &mut Slot, cooldown: Duration, error: &str) {
    slot.failures += 1;
    slot.consecutive_failures += 1;
    slot.last_error = Some(error.to_string());
    let factor = 1u32 << (slot.consecutive_failures - 1).min(3);
    slot.health = Health::Down(Instant::now() + cooldown * factor);
}

impl Lease<'_> {
    /// Index of the endpoint in the pool.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Base URL of the endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this request probes an endpoint that had failed.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The endpoint could not be reached: take it out for a cool-down.
    pub fn failed(mut self, error: &str) {
        self.done = true;
        self.pool
            .release(self.index, self.probe, Some(Failure::Unreachable(error)));
    }

    /// The endpoint answered that it is overloaded or broken (5xx, 429,
    /// 408): after [`STATUS_STRIKES`] such answers in a row, or at once when
    /// it names a `retry_after` (already capped by the caller), or on a
    /// probe, it is taken out like an unreachable one.
    pub fn overloaded(mut self, error: &str, retry_after: Option<Duration>) {
        self.done = true;
        self.pool.release(
            self.index,
            self.probe,
            Some(Failure::Overloaded(error, retry_after)),
        );
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.pool.release(self.index, self.probe, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pool(limits: &[usize], cooldown_ms: u64) -> Pool {
        Pool::new(
            limits
                .iter()
                .enumerate()
                .map(|(i, &l)| (format!("http://e{i}"), l))
                .collect(),
            Duration::from_millis(cooldown_ms),
        )
    }

    #[test]
    fn least_outstanding_is_chosen() {
        let p = pool(&[4, 4], 1000);
        let a = p.acquire().unwrap();
        let b = p.acquire().unwrap();
        assert_ne!(a.index(), b.index(), "idle endpoints share the load");
        let c = p.acquire().unwrap();
        let d = p.acquire().unwrap();
        assert_ne!(c.index(), d.index());
        // Free two on endpoint 0: the next two go there.
        let (zero, one): (Vec<_>, Vec<_>) = [a, b, c, d].into_iter().partition(|l| l.index() == 0);
        drop(zero);
        let e = p.acquire().unwrap();
        let f = p.acquire().unwrap();
        assert_eq!((e.index(), f.index()), (0, 0));
        let g = p.acquire().unwrap();
        // A tie goes round-robin.
        assert_eq!(g.index(), 1);
        assert_eq!(
            p.stats().iter().map(|s| s.in_flight).collect::<Vec<_>>(),
            vec![2, 3]
        );
        drop((one, e, f, g));
    }

    #[test]
    fn limits_block_until_freed() {
        let p = Arc::new(pool(&[1], 1000));
        let held = p.acquire().unwrap();
        let p2 = Arc::clone(&p);
        let waiter = std::thread::spawn(move || {
            let t = Instant::now();
            let l = p2.acquire().unwrap();
            assert_eq!(l.index(), 0);
            t.elapsed()
        });
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
        assert!(waiter.join().unwrap() >= Duration::from_millis(90));
    }

    #[test]
    fn failed_endpoint_cools_down_then_is_probed() {
        let p = pool(&[2, 2], 100);
        let a = p.acquire().unwrap();
        assert_eq!(a.index(), 0);
        a.failed("connection refused");
        // Endpoint 0 is out: everything goes to 1.
        for _ in 0..5 {
            assert_eq!(p.acquire().unwrap().index(), 1);
        }
        assert!(!p.stats()[0].healthy);
        std::thread::sleep(Duration::from_millis(120));
        // Cool-down over: one probe goes to 0, the others to 1 meanwhile.
        let probe = p.acquire().unwrap();
        assert_eq!(probe.index(), 0);
        assert!(probe.is_probe());
        assert_eq!(p.acquire().unwrap().index(), 1);
        drop(probe);
        assert!(p.stats()[0].healthy);
        let x = p.acquire().unwrap();
        let y = p.acquire().unwrap();
        assert_ne!(x.index(), y.index());
    }

    #[test]
    fn all_down_is_unavailable_not_blocking() {
        let p = pool(&[1], 10_000);
        p.acquire().unwrap().failed("refused");
        let err = p.acquire().unwrap_err();
        assert_eq!(err.last_error, "refused");
        assert!(err.retry_in > Duration::from_secs(5));
        assert!(!p.has_available());
    }

    #[test]
    fn overload_answers_take_an_endpoint_out_and_retries_go_elsewhere() {
        let p = pool(&[2, 2], 10_000);
        for k in 1..=STATUS_STRIKES {
            let l = p.acquire_avoiding(Some(1)).unwrap();
            assert_eq!(l.index(), 0, "endpoint 1 avoided while 0 has room");
            l.overloaded("HTTP 503", None);
            assert_eq!(p.stats()[0].healthy, k < STATUS_STRIKES, "strike {k}");
        }
        assert_eq!(p.acquire().unwrap().index(), 1);
        // A success in between starts the count again.
        let p = pool(&[1], 10_000);
        p.acquire().unwrap().overloaded("503", None);
        p.acquire().unwrap().overloaded("503", None);
        drop(p.acquire().unwrap());
        p.acquire().unwrap().overloaded("503", None);
        assert!(p.stats()[0].healthy);
        // Retry-After takes it out at once, for that long.
        p.acquire()
            .unwrap()
            .overloaded("429", Some(Duration::from_millis(30)));
        assert!(!p.stats()[0].healthy);
        std::thread::sleep(Duration::from_millis(40));
        assert!(p.acquire().unwrap().is_probe());
    }

    #[test]
    fn failed_probe_doubles_the_cooldown() {
        let p = pool(&[1], 50);
        p.acquire().unwrap().failed("refused");
        std::thread::sleep(Duration::from_millis(60));
        let probe = p.acquire().unwrap();
        assert!(probe.is_probe());
        probe.failed("refused again");
        let err = p.acquire().unwrap_err();
        assert!(
            err.retry_in > Duration::from_millis(60),
            "{:?}",
            err.retry_in
        );
        assert_eq!(p.stats()[0].failures, 2);
    }
}
