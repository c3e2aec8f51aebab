//! Analytic queueing formulas, as pure functions: the yardstick simulated results are checked
//! against (and the "back of the envelope" a report can print next to them).
//!
//! Units are the caller's: rates and times only need to be consistent (requests per second and
//! seconds, or per nanosecond and nanoseconds). Notation: arrival rate `λ`, service rate `μ`
//! (mean service time `1/μ`), `c` servers, utilisation `ρ = λ / (cμ)`; `W` mean response
//! (sojourn) time, `Wq` mean wait in queue, `L` mean number in system, `Lq` mean number
//! waiting. Every function refuses unstable systems (`ρ >= 1`) with
//! [`QueueingError::Unstable`] and invalid parameters with [`QueueingError::InvalidParameter`].
//!
//! Exponential and logarithm come from the `libm` crate, so results are identical on every
//! platform.

use std::fmt;

/// Why a formula has no answer.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueingError {
    /// Utilisation `rho >= 1`: the queue grows without bound and there is no steady state.
    Unstable {
        /// The offending utilisation.
        rho: f64,
    },
    /// A parameter is NaN, infinite, or out of range.
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// The allowed range.
        allowed: &'static str,
    },
}

impl fmt::Display for QueueingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueingError::Unstable { rho } => write!(
                f,
                "utilisation rho = {rho:.4} >= 1: the system is unstable (no steady state)"
            ),
            QueueingError::InvalidParameter {
                name,
                value,
                allowed,
            } => {
                write!(f, "`{name}` is {value:?}, but it must be {allowed}")
            }
        }
    }
}

impl std::error::Error for QueueingError {}

fn positive(name: &'static str, value: f64) -> Result<f64, QueueingError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(QueueingError::InvalidParameter {
            name,
            value,
            allowed: "finite and > 0",
        })
    }
}

fn non_negative(name: &'static str, value: f64) -> Result<f64, QueueingError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(QueueingError::InvalidParameter {
            name,
            value,
            allowed: "finite and >= 0",
        })
    }
}

fn stable(rho: f64) -> Result<f64, QueueingError> {
    if rho < 1.0 {
        Ok(rho)
    } else {
        Err(QueueingError::Unstable { rho })
    }
}

/// Steady-state measures of a single queue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueueMetrics {
    /// Utilisation `ρ = λ / (cμ)` (fraction of time each server is busy).
    pub rho: f64,
    /// Probability that an arrival has to wait (`P(Wq > 0)`).
    pub p_wait: f64,
    /// Mean wait in queue `Wq`.
    pub mean_wait: f64,
    /// Mean response time `W = Wq + 1/μ`.
    pub mean_response: f64,
    /// Mean number waiting `Lq = λ Wq`.
    pub mean_queue_len: f64,
    /// Mean number in system `L = λ W`.
    pub mean_in_system: f64,
}

impl QueueMetrics {
    fn from_wait(
        lambda: f64,
        mean_service: f64,
        rho: f64,
        p_wait: f64,
        mean_wait: f64,
    ) -> QueueMetrics {
        let mean_response = mean_wait + mean_service;
        QueueMetrics {
            rho,
            p_wait,
            mean_wait,
            mean_response,
            mean_queue_len: lambda * mean_wait,
            mean_in_system: lambda * mean_response,
        }
    }
}

/// M/M/1: Poisson arrivals at rate `lambda`, one server with exponential service at rate `mu`.
///
/// `ρ = λ/μ`, `P(wait) = ρ`, `W = 1/(μ − λ)`, `L = ρ/(1 − ρ)`, `Lq = ρ²/(1 − ρ)`,
/// `Wq = ρ/(μ − λ)`.
pub fn mm1(lambda: f64, mu: f64) -> Result<QueueMetrics, QueueingError> {
    let lambda = positive("lambda", lambda)?;
    let mu = positive("mu", mu)?;
    let rho = stable(lambda / mu)?;
    Ok(QueueMetrics::from_wait(
        lambda,
        1.0 / mu,
        rho,
        rho,
        rho / (mu - lambda),
    ))
}

/// The `p`-quantile of the M/M/1 (FIFO) response time: the response time is exponential with
/// rate `μ − λ`, so the quantile is `−ln(1 − p) / (μ − λ)`. `p` must be in `[0, 1)`.
pub fn mm1_response_quantile(lambda: f64, mu: f64, p: f64) -> Result<f64, QueueingError> {
    mm1(lambda, mu)?;
    if !(0.0..1.0).contains(&p) {
        return Err(QueueingError::InvalidParameter {
            name: "p",
            value: p,
            allowed: "in [0, 1)",
        });
    }
    Ok(-libm::log1p(-p) / (mu - lambda))
}

/// The Erlang C formula: the probability that an arrival waits in an M/M/c queue with offered
/// load `a = λ/μ` (in Erlangs) and `c` servers. Computed through the numerically stable
/// Erlang B recursion `B(0) = 1`, `B(k) = a B(k−1) / (k + a B(k−1))`, then
/// `C = B / (1 − ρ(1 − B))` with `ρ = a / c`.
pub fn erlang_c(offered_load: f64, servers: u32) -> Result<f64, QueueingError> {
    let a = positive("offered_load", offered_load)?;
    if servers == 0 {
        return Err(QueueingError::InvalidParameter {
            name: "servers",
            value: 0.0,
            allowed: ">= 1",
        });
    }
    let rho = stable(a / f64::from(servers))?;
    let b = erlang_b(a, servers)?;
    Ok(b / (1.0 - rho * (1.0 - b)))
}

/// The Erlang B formula: the blocking probability of an M/M/c/c loss system with offered load
/// `a = λ/μ` and `c` servers (defined for any load, no stability condition).
pub fn erlang_b(offered_load: f64, servers: u32) -> Result<f64, QueueingError> {
    let a = non_negative("offered_load", offered_load)?;
    let mut b = 1.0;
    for k in 1..=servers {
        b = a * b / (f64::from(k) + a * b);
    }
    Ok(b)
}

/// M/M/c: Poisson arrivals at rate `lambda`, `c` identical servers with exponential service at
/// rate `mu` each, one FIFO queue.
///
/// `ρ = λ/(cμ)`, `P(wait) = C(c, λ/μ)` (Erlang C), `Wq = C / (cμ − λ)`, `W = Wq + 1/μ`.
pub fn mmc(lambda: f64, mu: f64, c: u32) -> Result<QueueMetrics, QueueingError> {
    let lambda = positive("lambda", lambda)?;
    let mu = positive("mu", mu)?;
    let p_wait = erlang_c(lambda / mu, c)?;
    let rho = lambda / (f64::from(c) * mu);
    let mean_wait = p_wait / (f64::from(c) * mu - lambda);
    Ok(QueueMetrics::from_wait(
        lambda,
        1.0 / mu,
        rho,
        p_wait,
        mean_wait,
    ))
}

/// M/G/1 by the Pollaczek–Khinchine formula: Poisson arrivals at rate `lambda`, one server
/// whose service time `S` has mean `mean_service` and second moment
/// `second_moment = E[S²] = Var S + (E S)²`.
///
/// `ρ = λ E[S]`, `P(wait) = ρ`, `Wq = λ E[S²] / (2(1 − ρ))`, `W = Wq + E[S]`.
pub fn mg1(
    lambda: f64,
    mean_service: f64,
    second_moment: f64,
) -> Result<QueueMetrics, QueueingError> {
    let lambda = positive("lambda", lambda)?;
    let es = positive("mean_service", mean_service)?;
    let es2 = non_negative("second_moment", second_moment)?;
    if es2 < es * es * (1.0 - 1e-12) {
        return Err(QueueingError::InvalidParameter {
            name: "second_moment",
            value: es2,
            allowed: ">= mean_service² (a second moment is at least the squared mean)",
        });
    }
    let rho = stable(lambda * es)?;
    let mean_wait = lambda * es2 / (2.0 * (1.0 - rho));
    Ok(QueueMetrics::from_wait(lambda, es, rho, rho, mean_wait))
}

/// M/D/1: Poisson arrivals, one server with a constant service time `service` (M/G/1 with
/// `E[S²] = service²`): `Wq = ρ · service / (2(1 − ρ))`, half the M/M/1 wait.
pub fn md1(lambda: f64, service: f64) -> Result<QueueMetrics, QueueingError> {
    let s = positive("service", service)?;
    mg1(lambda, s, s * s)
}

/// Little's law `L = λ W`: the mean number in any stable system equals its throughput times
/// the mean time spent inside.
pub fn little_l(throughput: f64, mean_time: f64) -> f64 {
    throughput * mean_time
}

/// Little's law solved for the mean time: `W = L / λ` (`None` when `throughput` is not > 0).
pub fn little_w(mean_number: f64, throughput: f64) -> Option<f64> {
    (throughput > 0.0).then(|| mean_number / throughput)
}

/// The interactive response-time law of a closed system: `N` users with mean think time `Z`
/// and mean response time `R` complete `X = N / (Z + R)` requests per unit time.
pub fn interactive_throughput(users: f64, think_time: f64, response_time: f64) -> Option<f64> {
    let cycle = think_time + response_time;
    (cycle > 0.0).then(|| users / cycle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn mm1_textbook_values() {
        // λ = 8, μ = 10: ρ = 0.8, W = 0.5, L = 4, Lq = 3.2, Wq = 0.4.
        let m = mm1(8.0, 10.0).unwrap();
        assert!(close(m.rho, 0.8));
        assert!(close(m.p_wait, 0.8));
        assert!(close(m.mean_response, 0.5));
        assert!(close(m.mean_in_system, 4.0));
        assert!(close(m.mean_queue_len, 3.2));
        assert!(close(m.mean_wait, 0.4));
        // Median of Exp(2) = ln 2 / 2; p99 = ln 100 / 2.
        assert!(close(
            mm1_response_quantile(8.0, 10.0, 0.5).unwrap(),
            std::f64::consts::LN_2 / 2.0
        ));
        assert!(close(
            mm1_response_quantile(8.0, 10.0, 0.99).unwrap(),
            100f64.ln() / 2.0
        ));
        assert!(mm1_response_quantile(8.0, 10.0, 1.0).is_err());
    }

    #[test]
    fn unstable_and_invalid_are_refused() {
        assert_eq!(mm1(10.0, 10.0), Err(QueueingError::Unstable { rho: 1.0 }));
        assert!(matches!(
            mmc(10.0, 2.0, 4),
            Err(QueueingError::Unstable { .. })
        ));
        assert!(matches!(md1(2.0, 0.5), Err(QueueingError::Unstable { .. })));
        assert!(matches!(
            mm1(f64::NAN, 1.0),
            Err(QueueingError::InvalidParameter { name: "lambda", .. })
        ));
        assert!(matches!(
            mmc(1.0, 1.0, 0),
            Err(QueueingError::InvalidParameter {
                name: "servers",
                ..
            })
        ));
        assert!(matches!(
            mg1(1.0, 0.5, 0.1),
            Err(QueueingError::InvalidParameter {
                name: "second_moment",
                ..
            })
        ));
        let e = mm1(2.0, 1.0).unwrap_err().to_string();
        assert!(e.contains("unstable"), "{e}");
    }

    #[test]
    fn erlang_c_reference_values() {
        // c = 1 reduces to M/M/1: C = ρ.
        assert!(close(erlang_c(0.7, 1).unwrap(), 0.7));
        // Classic call-centre table: a = 2 Erlangs, c = 3 → C = 4/9 = 0.444...
        assert!(close(erlang_c(2.0, 3).unwrap(), 4.0 / 9.0));
        // Erlang B: a = 2, c = 3 → B = (8/6) / (1 + 2 + 2 + 8/6) = 4/19.
        assert!(close(erlang_b(2.0, 3).unwrap(), 4.0 / 19.0));
        // Closed form for c = 2: C = 2ρ²/(1 + ρ) with ρ = a/2; a = 1.2 → ρ = 0.6 → 0.45.
        assert!(close(erlang_c(1.2, 2).unwrap(), 0.45));
        // Large c stays finite (no factorial overflow).
        let c = erlang_c(900.0, 1000).unwrap();
        assert!(c > 0.0 && c < 1e-3, "{c}");
    }

    #[test]
    fn mmc_matches_mm1_for_one_server_and_has_expected_wait() {
        let a = mmc(8.0, 10.0, 1).unwrap();
        let b = mm1(8.0, 10.0).unwrap();
        assert!(close(a.mean_response, b.mean_response) && close(a.mean_wait, b.mean_wait));
        // c = 2, λ = 1.2, μ = 1: C = 0.45, Wq = 0.45 / 0.8 = 0.5625, W = 1.5625.
        let m = mmc(1.2, 1.0, 2).unwrap();
        assert!(close(m.p_wait, 0.45));
        assert!(close(m.mean_wait, 0.5625));
        assert!(close(m.mean_response, 1.5625));
        assert!(close(m.mean_in_system, 1.2 * 1.5625));
        assert!(close(m.rho, 0.6));
    }

    #[test]
    fn pollaczek_khinchine() {
        // M/D/1 wait is half the M/M/1 wait at the same ρ.
        let d = md1(0.8, 1.0).unwrap();
        let m = mm1(0.8, 1.0).unwrap();
        assert!(close(d.mean_wait, m.mean_wait / 2.0));
        assert!(close(d.mean_wait, 2.0));
        // M/G/1 with exponential service (E[S²] = 2/μ²) is M/M/1.
        let g = mg1(0.8, 1.0, 2.0).unwrap();
        assert!(close(g.mean_response, m.mean_response));
        assert!(close(g.mean_in_system, m.mean_in_system));
    }

    #[test]
    fn little_and_interactive_laws() {
        assert!(close(little_l(100.0, 0.05), 5.0));
        assert_eq!(little_w(5.0, 100.0), Some(0.05));
        assert_eq!(little_w(5.0, 0.0), None);
        assert_eq!(interactive_throughput(10.0, 0.9, 0.1), Some(10.0));
        assert_eq!(interactive_throughput(10.0, 0.0, 0.0), None);
    }
}
