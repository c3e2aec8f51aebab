//! Conversion and cross-component checks of the microservice patterns
//! (`kind: Pattern(...)`, [`crate::raw_patterns`] → [`clustersim_models::patterns`]).
//!
//! A child module of `validate`, so it shares its private helpers (`Ctx`, `Names`, `target`,
//! `retry`, ...) without making them public.

use clustersim_engine::ComponentId;
use clustersim_models::patterns::{
    PatternConfig, cqrs, idempotency, saga,
    strangler::{self, ShareStep},
};
use clustersim_models::registry::ComponentConfig;

use super::{
    ComponentSpec, Ctx, Names, bytes_u32, check_dist, op, retry, target, timeout, transport,
};
use crate::diagnostic::Diagnostic;
use crate::raw::{self, Scenario};
use crate::raw_patterns::{self as rp, Pattern};

/// Converts one `Pattern(...)` kind; `path` ends in `.kind`.
pub(super) fn pattern_config(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    k: &Pattern,
) -> PatternConfig {
    let path = format!("{path}.{}", k.variant_path());
    let tr = |cx: &Ctx, t: Option<raw::Transport>| t.map(transport).unwrap_or(cx.default_transport);
    match k {
        Pattern::Saga(s) => {
            let steps = s
                .steps
                .iter()
                .enumerate()
                .map(|(i, n)| target(cx, components, &format!("{path}.steps[{i}]"), n))
                .collect();
            PatternConfig::Saga(saga::SagaConfig {
                mode: match s.mode {
                    rp::SagaMode::Orchestration => saga::SagaMode::Orchestration,
                    rp::SagaMode::Choreography => saga::SagaMode::Choreography,
                },
                steps,
                step_timeout: s.step_timeout.0,
                retry: retry(cx, &format!("{path}.retry"), &s.retry),
                compensation_retry: retry(
                    cx,
                    &format!("{path}.compensation_retry"),
                    &s.compensation_retry,
                ),
                // A zero timeout is reported by `timeout`; once is enough.
                saga_timeout: timeout(cx, &format!("{path}.saga_timeout"), s.saga_timeout)
                    .filter(|d| !d.is_zero()),
                audit_delay: s.audit_delay.map(|d| d.0),
                log_write: s.log_write.0,
                transport: tr(cx, s.transport),
            })
        }
        Pattern::SagaParticipant(p) => {
            let work = check_dist(cx, &format!("{path}.work"), &p.work);
            let compensation_work = match &p.compensation_work {
                Some(d) => check_dist(cx, &format!("{path}.compensation_work"), d),
                None => work.clone(),
            };
            PatternConfig::SagaParticipant(saga::ParticipantConfig {
                work,
                compensation_work,
                failure_probability: p.failure.value(),
                compensation_failure_probability: p.compensation_failure.value(),
                store: p
                    .store
                    .as_ref()
                    .map(|s| target(cx, components, &format!("{path}.store"), s)),
                retry: retry(cx, &format!("{path}.retry"), &p.retry),
                compensation_retry: retry(
                    cx,
                    &format!("{path}.compensation_retry"),
                    &p.compensation_retry,
                ),
                retention: p.retention.0,
                routes: Vec::new(), // filled in by `check_patterns` from the sagas' steps
                transport: tr(cx, p.transport),
            })
        }
        Pattern::CqrsWrite(w) => {
            if w.read_models.is_empty() {
                cx.push(
                    Diagnostic::new(
                        format!("{path}.read_models"),
                        "a write model needs at least one read model to publish to",
                    )
                    .with_hint("name the CqrsRead components that project its events"),
                );
            }
            PatternConfig::CqrsWrite(cqrs::WriteModelConfig {
                store: target(cx, components, &format!("{path}.store"), &w.store),
                read_models: w
                    .read_models
                    .iter()
                    .enumerate()
                    .map(|(i, n)| target(cx, components, &format!("{path}.read_models[{i}]"), n))
                    .collect(),
                event_size_bytes: bytes_u32(cx, &format!("{path}.event_size"), w.event_size),
                transport: tr(cx, w.transport),
            })
        }
        Pattern::CqrsRead(r) => PatternConfig::CqrsRead(cqrs::ReadModelConfig {
            projection_delay: r.projection_delay.0,
            apply_time: r.apply_time.0,
            store: r
                .store
                .as_ref()
                .map(|s| target(cx, components, &format!("{path}.store"), s)),
            transport: tr(cx, r.transport),
        }),
        Pattern::StranglerRouter(s) => {
            let routes = s
                .routes
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let p = format!("{path}.routes[{i}]");
                    if r.schedule.is_empty() {
                        cx.push(
                            Diagnostic::new(
                                format!("{p}.schedule"),
                                "a migrated route needs at least one schedule step",
                            )
                            .with_hint("e.g. `schedule: [(at: \"0s\", share: 0.1)]`"),
                        );
                    }
                    strangler::RouteConfig {
                        route: op(r.route),
                        target: target(cx, components, &format!("{p}.target"), &r.target),
                        schedule: r
                            .schedule
                            .iter()
                            .map(|st| ShareStep {
                                at: st.at.0,
                                share: st.share.value(),
                            })
                            .collect(),
                        rollback: r.rollback.as_ref().map(|rb| strangler::Rollback {
                            window: rb.window.0,
                            max_error_rate: rb.max_error_rate.value(),
                            max_p99: rb.max_p99.map(|d| d.0),
                            min_requests: rb.min_requests,
                        }),
                    }
                })
                .collect();
            PatternConfig::StranglerRouter(strangler::StranglerConfig {
                legacy: target(cx, components, &format!("{path}.legacy"), &s.legacy),
                routes,
                timeout: timeout(cx, &format!("{path}.timeout"), s.timeout)
                    .filter(|d| !d.is_zero()),
                transport: tr(cx, s.transport),
            })
        }
        Pattern::IdempotentClient(c) => {
            PatternConfig::IdempotentClient(idempotency::IdemClientConfig {
                target: target(cx, components, &format!("{path}.target"), &c.target),
                rate_per_s: c.rate.per_second(),
                timeout: c.timeout.0,
                retry: retry(cx, &format!("{path}.retry"), &c.retry),
                missing_key_probability: c.missing_key.value(),
                double_submit_probability: c.double_submit.value(),
                request_size_bytes: bytes_u32(cx, &format!("{path}.request_size"), c.request_size),
                transport: tr(cx, c.transport),
            })
        }
        Pattern::IdempotentServer(s) => {
            PatternConfig::IdempotentServer(idempotency::IdemServerConfig {
                backend: target(cx, components, &format!("{path}.backend"), &s.backend),
                key_store: match &s.key_store {
                    rp::KeyStore::Local => idempotency::KeyStoreMode::Local,
                    rp::KeyStore::Shared { store, timeout } => idempotency::KeyStoreMode::Shared {
                        store: target(
                            cx,
                            components,
                            &format!("{path}.key_store.Shared.store"),
                            store,
                        ),
                        timeout: timeout.0,
                    },
                },
                transport: tr(cx, s.transport),
            })
        }
        Pattern::IdempotencyStore(s) => {
            PatternConfig::IdempotencyStore(idempotency::KeyStoreConfig {
                sync_delay: s.sync_delay.0,
                transport: tr(cx, s.transport),
            })
        }
        Pattern::ResourceDb(d) => PatternConfig::ResourceDb(idempotency::ResourceDbConfig {
            insert_time: check_dist(cx, &format!("{path}.insert_time"), &d.insert_time),
            transport: tr(cx, d.transport),
        }),
    }
}

/// The `Pattern` kind of component `name`, if it is one.
fn pattern_of<'a>(raw: &'a Scenario, components: &Names<'_>, name: &str) -> Option<&'a Pattern> {
    let &i = components.ids.get(name)?;
    match &raw.components[i as usize].kind {
        raw::Kind::Pattern(p) => Some(p),
        _ => None,
    }
}

/// Names of the components of one pattern kind, for hints.
fn names_of(raw: &Scenario, is: impl Fn(&Pattern) -> bool) -> Vec<&str> {
    raw.components
        .iter()
        .filter(|c| matches!(&c.kind, raw::Kind::Pattern(p) if is(p)))
        .map(|c| c.name.as_str())
        .collect()
}

/// Reports that `path` names `name`, which is not a `want` component.
fn wrong_kind(cx: &mut Ctx, path: String, name: &str, want: &str, candidates: Vec<&str>) {
    let hint = if candidates.is_empty() {
        format!("add a `Pattern({want}(...))` component and name it here")
    } else {
        format!("name a {want} component: {}", candidates.join(", "))
    };
    cx.push(
        Diagnostic::new(
            path,
            format!("`{name}` is not {} {want} component", article(want)),
        )
        .with_hint(hint),
    );
}

/// Cross-component checks of the patterns, and the choreography routes: each participant
/// of a choreographed saga learns its previous and next step from the saga's `steps`.
pub(super) fn check_patterns(
    cx: &mut Ctx,
    raw: &Scenario,
    components: &Names<'_>,
    specs: &mut [ComponentSpec],
) {
    for (i, c) in raw.components.iter().enumerate() {
        let raw::Kind::Pattern(p) = &c.kind else {
            continue;
        };
        let path = format!("components[{i}].kind.{}", p.variant_path());
        match p {
            Pattern::Saga(s) => {
                let mut ids: Vec<Option<ComponentId>> = Vec::with_capacity(s.steps.len());
                for (j, step) in s.steps.iter().enumerate() {
                    let is_participant = matches!(
                        pattern_of(raw, components, step),
                        Some(Pattern::SagaParticipant(_))
                    );
                    if !is_participant && components.ids.contains_key(step.as_str()) {
                        let cands = names_of(raw, |p| matches!(p, Pattern::SagaParticipant(_)));
                        wrong_kind(
                            cx,
                            format!("{path}.steps[{j}]"),
                            step,
                            "SagaParticipant",
                            cands,
                        );
                    }
                    ids.push(
                        is_participant
                            .then(|| components.ids.get(step.as_str()).map(|&x| ComponentId(x)))
                            .flatten(),
                    );
                }
                if s.mode != rp::SagaMode::Choreography || ids.iter().any(Option::is_none) {
                    continue;
                }
                let ids: Vec<ComponentId> = ids.into_iter().flatten().collect();
                for (j, &id) in ids.iter().enumerate() {
                    let route = saga::ChoreographyRoute {
                        origin: ComponentId(i as u32),
                        step: j as u16,
                        prev: j.checked_sub(1).map(|k| ids[k]),
                        next: ids.get(j + 1).copied(),
                    };
                    if let ComponentConfig::Pattern(PatternConfig::SagaParticipant(pc)) =
                        &mut specs[id.index()].config
                    {
                        pc.routes.push(route);
                    }
                }
            }
            Pattern::CqrsWrite(w) => {
                for (j, n) in w.read_models.iter().enumerate() {
                    let ok = matches!(pattern_of(raw, components, n), Some(Pattern::CqrsRead(_)));
                    if !ok && components.ids.contains_key(n.as_str()) {
                        let cands = names_of(raw, |p| matches!(p, Pattern::CqrsRead(_)));
                        wrong_kind(cx, format!("{path}.read_models[{j}]"), n, "CqrsRead", cands);
                    }
                }
            }
            Pattern::IdempotentServer(s) => {
                if let rp::KeyStore::Shared { store, .. } = &s.key_store {
                    let ok = matches!(
                        pattern_of(raw, components, store),
                        Some(Pattern::IdempotencyStore(_))
                    );
                    if !ok && components.ids.contains_key(store.as_str()) {
                        let cands = names_of(raw, |p| matches!(p, Pattern::IdempotencyStore(_)));
                        wrong_kind(
                            cx,
                            format!("{path}.key_store.Shared.store"),
                            store,
                            "IdempotencyStore",
                            cands,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

/// "a" or "an" before `word`.
fn article(word: &str) -> &'static str {
    if word.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    }
}
