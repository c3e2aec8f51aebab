//! Building a runnable [`Sim`] from a validated [`Spec`].

use clustersim_engine::{BuildError, Sim, SimBuilder, SimTime};
use clustersim_models::Cluster;
use clustersim_models::registry;

use crate::validate::Spec;

/// Builds the simulation for `spec` with master seed `seed` (a replication's seed), with the
/// warm-up and report interval set on the recorder.
pub fn build(spec: &Spec, seed: u64) -> Result<Sim<Cluster>, BuildError> {
    let mut b = SimBuilder::<Cluster>::new(seed);
    for r in &spec.regions {
        b.add_region(r);
    }
    for n in &spec.nodes {
        let id = b.add_node(&n.name, n.region);
        b.set_clock(id, n.clock);
        b.set_nic_bandwidth(id, n.nic_bps);
    }
    *b.network() = spec.network.clone();
    b.metrics().set_warmup(SimTime::ZERO + spec.warmup);
    b.metrics().set_interval(Some(spec.report_interval));
    for c in &spec.components {
        let id = b.reserve_component(c.node, &c.name);
        let component = registry::build(&c.config, id, b.metrics());
        b.set_component(id, component);
    }
    for (at, f) in &spec.faults {
        b.schedule_fault(*at, f.clone());
    }
    for (name, f) in &spec.random_faults {
        b.random_faults(name, f.clone());
    }
    b.build()
}
