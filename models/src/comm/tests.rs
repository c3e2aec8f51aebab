//! Unit tests of the comm handlers, driven one event at a time through the engine's
//! [`Harness`].

use clustersim_engine::testing::Harness;
use clustersim_engine::{Command, Component, ComponentId, SimTime};

use super::*;
use crate::Cluster;

fn sends(out: &[Command<Cluster>]) -> Vec<(ComponentId, Msg)> {
    out.iter()
        .filter_map(|c| match c {
            Command::Send {
                dst,
                msg: crate::Msg::Comm(m),
                ..
            } => Some((*dst, *m)),
            _ => None,
        })
        .collect()
}

#[test]
fn handshake_reply_answers_connect_only() {
    assert_eq!(
        handshake_reply(&Msg::Connect { id: 7 }),
        Some(Msg::ConnectAck { id: 7 })
    );
    assert_eq!(handshake_reply(&Msg::Ping { conn: 1 }), None);
}

#[test]
fn gateway_fans_out_to_subscribers_and_refuses_beyond_capacity() {
    let mut h = Harness::new(1, "gw");
    let mut cfg = PushGatewayConfig::new();
    cfg.max_connections = 2;
    let mut g = PushGateway::new(&cfg, h.me, &mut h.metrics);
    for (c, accepted) in [(5, true), (3, true), (9, false)] {
        let out = h.call(|cx| g.on_message(cx, ComponentId(c), Msg::Subscribe { conn: 1 }.into()));
        assert_eq!(
            sends(&out),
            vec![(ComponentId(c), Msg::Subscribed { conn: 1, accepted })]
        );
    }
    let at = SimTime::from_nanos(42);
    let out = h.call(|cx| g.on_message(cx, ComponentId(0), Msg::Publish { seq: 4, at }.into()));
    assert_eq!(
        sends(&out),
        vec![
            (ComponentId(3), Msg::Push { seq: 4, at }),
            (ComponentId(5), Msg::Push { seq: 4, at }),
        ]
    );
    let out = h.call(|cx| g.on_message(cx, ComponentId(9), Msg::Ping { conn: 2 }.into()));
    assert_eq!(
        sends(&out),
        vec![(
            ComponentId(9),
            Msg::Pong {
                conn: 2,
                known: false
            }
        )]
    );
}

#[test]
fn push_client_handshakes_subscribes_and_counts_gaps() {
    let mut h = Harness::new(1, "c");
    let gw = ComponentId(1);
    let mut cfg = PushClientConfig::new(gw);
    cfg.handshake_rtts = 2;
    let mut c = PushClient::new(&cfg, h.me, &mut h.metrics);
    h.call(|cx| c.on_start(cx));
    let out = h.call(|cx| c.on_timer(cx, Timer::Reconnect { conn: 1 }.into()));
    assert_eq!(sends(&out), vec![(gw, Msg::Connect { id: 1 })]);
    let out = h.call(|cx| c.on_message(cx, gw, Msg::ConnectAck { id: 1 }.into()));
    assert_eq!(sends(&out), vec![(gw, Msg::Connect { id: 1 })]);
    let out = h.call(|cx| c.on_message(cx, gw, Msg::ConnectAck { id: 1 }.into()));
    assert_eq!(sends(&out), vec![(gw, Msg::Subscribe { conn: 1 })]);
    let ack = Msg::Subscribed {
        conn: 1,
        accepted: true,
    };
    h.call(|cx| c.on_message(cx, gw, ack.into()));
    assert!(c.is_connected());
    for seq in [3, 4, 8, 8] {
        let at = SimTime::ZERO;
        h.call(|cx| c.on_message(cx, gw, Msg::Push { seq, at }.into()));
    }
    let me = h.me;
    let m = std::mem::take(&mut h.metrics).finish(SimTime::from_nanos(1));
    let get = |n: &str| m.counter(m.find(Some(me), n).unwrap());
    assert_eq!(get("pushes_delivered"), 3, "the repeated 8 is ignored");
    assert_eq!(get("pushes_missed"), 3, "5, 6 and 7");
    assert_eq!(get("requests"), 6);
}
