//! Route compilation: the region graph is built with `petgraph` once, at setup, and every
//! region-to-region shortest path (by mean link latency) is compiled into a dense table of hop
//! lists. The hot path only indexes that table; it never walks the graph.

use petgraph::algo::astar;
use petgraph::graph::{DiGraph, NodeIndex};

/// Dense routes between regions: `hops(a, b)` lists the directed link indices to traverse.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    regions: usize,
    /// `(start, len)` into `hop_links` for each `a * regions + b`; `len == u32::MAX` = no route.
    index: Vec<(u32, u32)>,
    hop_links: Vec<u32>,
}

const NO_ROUTE: u32 = u32::MAX;

impl RouteTable {
    /// Compiles routes for `regions` regions over directed `edges` `(from, to, weight, link)`:
    /// routes list the `link` values of the edges they take. Intra-region routes are the single link
    /// `intra[r]`. Ties between equal-weight paths resolve the same way every time (petgraph's
    /// A* visits edges in insertion order).
    pub fn compile(regions: usize, intra: &[u32], edges: &[(u32, u32, u64, u32)]) -> RouteTable {
        let mut g: DiGraph<(), (u64, u32)> = DiGraph::with_capacity(regions, edges.len());
        let nodes: Vec<NodeIndex> = (0..regions).map(|_| g.add_node(())).collect();
        for &(a, b, w, link) in edges {
            g.add_edge(nodes[a as usize], nodes[b as usize], (w, link));
        }
        let mut table = RouteTable {
            regions,
            index: Vec::with_capacity(regions * regions),
            hop_links: Vec::new(),
        };
        for a in 0..regions {
            for b in 0..regions {
                let start = table.hop_links.len() as u32;
                if a == b {
                    table.hop_links.push(intra[a]);
                    table.index.push((start, 1));
                    continue;
                }
                let found = astar(&g, nodes[a], |n| n == nodes[b], |e| e.weight().0, |_| 0);
                match found {
                    Some((_, path)) => {
                        for pair in path.windows(2) {
                            // Cheapest edge between consecutive path nodes (first on ties).
                            let link = g
                                .edges_connecting(pair[0], pair[1])
                                .min_by_key(|e| (e.weight().0, e.weight().1))
                                .map(|e| e.weight().1)
                                .expect("a path step is an edge");
                            table.hop_links.push(link);
                        }
                        table.index.push((start, (path.len() - 1) as u32));
                    }
                    None => table.index.push((0, NO_ROUTE)),
                }
            }
        }
        table
    }

    /// Number of regions the table covers.
    pub fn regions(&self) -> usize {
        self.regions
    }

    /// The hop links from region `a` to region `b`, or `None` when `b` is unreachable.
    #[inline]
    pub fn hops(&self, a: usize, b: usize) -> Option<&[u32]> {
        let (start, len) = self.index[a * self.regions + b];
        if len == NO_ROUTE {
            None
        } else {
            Some(&self.hop_links[start as usize..(start + len) as usize])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use petgraph::algo::dijkstra;
    use proptest::prelude::*;

    fn route_cost(
        t: &RouteTable,
        edges: &[(u32, u32, u64, u32)],
        a: usize,
        b: usize,
    ) -> Option<u64> {
        t.hops(a, b)
            .map(|h| h.iter().map(|&l| edges[l as usize].2).sum())
    }

    #[test]
    fn prefers_cheaper_two_hop_path() {
        // 0 -> 2 directly costs 100; via 1 costs 30.
        let edges = [(0, 2, 100, 0), (0, 1, 10, 1), (1, 2, 20, 2)];
        let t = RouteTable::compile(3, &[10, 11, 12], &edges);
        assert_eq!(t.hops(0, 2), Some(&[1, 2][..]));
        assert_eq!(t.hops(2, 0), None);
        assert_eq!(t.hops(1, 1), Some(&[11][..]));
    }

    proptest! {
        /// Differential test: every compiled route costs exactly what Dijkstra says is optimal.
        #[test]
        fn routes_are_shortest(n in 2usize..7, raw in prop::collection::vec((0u32..7, 0u32..7, 1u64..100), 0..30)) {
            let edges: Vec<_> = raw.into_iter().filter(|&(a, b, _)| (a as usize) < n && (b as usize) < n && a != b)
                .enumerate().map(|(i, (a, b, w))| (a, b, w, i as u32)).collect();
            let intra: Vec<u32> = (0..n as u32).map(|r| 1000 + r).collect();
            let t = RouteTable::compile(n, &intra, &edges);
            let mut g: DiGraph<(), u64> = DiGraph::new();
            let nodes: Vec<_> = (0..n).map(|_| g.add_node(())).collect();
            for &(a, b, w, _) in &edges { g.add_edge(nodes[a as usize], nodes[b as usize], w); }
            for a in 0..n {
                let dist = dijkstra(&g, nodes[a], None, |e| *e.weight());
                for (b, node_b) in nodes.iter().enumerate() {
                    if a == b { continue; }
                    prop_assert_eq!(route_cost(&t, &edges, a, b), dist.get(node_b).copied());
                }
            }
        }
    }
}
