//! Textbook answers next to simulated ones.
//!
//! When a scenario's topology is a textbook queue — one Poisson open-loop client without
//! modulation, timeouts or retries, calling one single-instance service with an unbounded queue
//! and no downstream calls, over an ideal network, without faults — queueing theory gives the
//! exact long-run answer and `clustersim run` prints it beside the simulation:
//! M/M/c (Erlang C) for exponential service times, M/G/1 (Pollaczek–Khinchine) for any other
//! service-time distribution with one worker. The formulas live in
//! `clustersim_models::queueing`.

use clustersim_engine::Dist;
use clustersim_models::queueing;
use clustersim_models::registry::ComponentConfig;
use clustersim_models::workload::ArrivalProcess;
use clustersim_scenarios::Spec;

/// Analytic values for some run metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    /// Which model applies, e.g. `"M/M/1, rho = 0.80"`.
    pub model: String,
    /// `(run metric name, value)`.
    pub values: Vec<(&'static str, f64)>,
}

impl Expected {
    /// The analytic value of `metric`, if known.
    pub fn get(&self, metric: &str) -> Option<f64> {
        self.values
            .iter()
            .find(|(m, _)| *m == metric)
            .map(|(_, v)| *v)
    }
}

fn ideal_network(spec: &Spec) -> bool {
    let n = &spec.network;
    let zero = |l: &clustersim_engine::LinkSpec| {
        l.latency.mean() == Some(0.0) && l.jitter.is_zero() && l.loss == 0.0 && l.bandwidth_bps == 0
    };
    zero(&n.loopback)
        && zero(&n.intra_region)
        && n.region_internal.is_empty()
        && spec.regions.len() == 1
}

/// The analytic expectation for `spec`, when its topology is a textbook queue.
pub fn expected(spec: &Spec) -> Option<Expected> {
    if spec.components.len() != 2
        || !spec.faults.is_empty()
        || !spec.random_faults.is_empty()
        || !ideal_network(spec)
    {
        return None;
    }
    let (client, service) = match (&spec.components[0].config, &spec.components[1].config) {
        (ComponentConfig::OpenLoopClient(c), ComponentConfig::Service(s)) => (c, s),
        (ComponentConfig::Service(s), ComponentConfig::OpenLoopClient(c)) => (c, s),
        _ => return None,
    };
    let textbook_client = client.arrival == ArrivalProcess::Poisson
        && client.modulation.is_empty()
        && client.timeout.is_none()
        && client.stop_after.is_none();
    let textbook_service =
        service.instances == 1 && service.calls.is_empty() && service.queue_capacity.is_none();
    if !textbook_client || !textbook_service {
        return None;
    }
    let lambda = client.rate_per_s;
    let mean_s = service.service_time.mean()? / 1e9;
    let c = service.workers;
    let exponential = matches!(service.service_time, Dist::Exponential { .. });
    let ms = 1e3;
    if exponential {
        let mu = 1.0 / mean_s;
        let q = queueing::mmc(lambda, mu, c).ok()?;
        let mut values = vec![
            ("throughput_rps", lambda),
            ("latency_mean_ms", q.mean_response * ms),
            ("error_rate", 0.0),
            ("max_utilization", q.rho),
        ];
        let model = if c == 1 {
            values.push((
                "latency_p50_ms",
                queueing::mm1_response_quantile(lambda, mu, 0.5).ok()? * ms,
            ));
            values.push((
                "latency_p99_ms",
                queueing::mm1_response_quantile(lambda, mu, 0.99).ok()? * ms,
            ));
            format!("M/M/1, rho = {:.3}", q.rho)
        } else {
            format!(
                "M/M/{c} (Erlang C), rho = {:.3}, P(wait) = {:.4}",
                q.rho, q.p_wait
            )
        };
        return Some(Expected { model, values });
    }
    if c != 1 {
        return None;
    }
    let var_s2 = service.service_time.variance()? / 1e18;
    // Second moment E[S^2] = Var[S] + E[S]^2.
    let q = queueing::mg1(lambda, mean_s, var_s2 + mean_s * mean_s).ok()?;
    Some(Expected {
        model: format!("M/G/1 (Pollaczek-Khinchine), rho = {:.3}", q.rho),
        values: vec![
            ("throughput_rps", lambda),
            ("latency_mean_ms", q.mean_response * ms),
            ("error_rate", 0.0),
            ("max_utilization", q.rho),
        ],
    })
}
