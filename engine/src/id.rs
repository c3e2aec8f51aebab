//! Dense identifiers. Names live only in the scenario layer and in [`crate::sim::Names`]; the
//! kernel and the models address everything by these indices, assigned in declaration order.

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            /// The id as a `usize`, for indexing dense tables.
            #[inline]
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

dense_id!(
    /// A node: a machine with a local clock, placed in a region; it crashes and restarts as a whole.
    NodeId
);
dense_id!(
    /// A component: one model instance (a client, a service, a store...) hosted on a node.
    ComponentId
);
dense_id!(
    /// A region (or zone): a group of nodes sharing network characteristics.
    RegionId
);
dense_id!(
    /// A metric series registered with the recorder.
    SeriesId
);
