//! Pure routing logic: exchange matching, the key-hash partitioner and the consumer-group
//! range assignor. No state, no randomness: property-tested directly.

use clustersim_engine::ComponentId;

use super::config::{ExchangeConfig, ExchangeKind, Word};

/// Whether a topic-exchange binding `pattern` matches `key`, word by word: a literal matches
/// itself, `*` exactly one word, `#` zero or more words (AMQP 0-9-1 semantics).
///
/// Iterative with backtracking to the last `#` (the classic wildcard algorithm): O(|pattern| ×
/// |key|) in the worst case, no allocation.
pub fn topic_matches(pattern: &[Word], key: &[Word]) -> bool {
    let (mut p, mut k) = (0usize, 0usize);
    // Position after the last `#` seen and the key position it is currently absorbing up to.
    let mut star: Option<(usize, usize)> = None;
    while k < key.len() {
        match pattern.get(p) {
            Some(Word::Hash) => {
                star = Some((p + 1, k));
                p += 1;
            }
            Some(Word::Star) => {
                p += 1;
                k += 1;
            }
            Some(w) if *w == key[k] => {
                p += 1;
                k += 1;
            }
            _ => match star {
                // Let the last `#` absorb one more word and retry.
                Some((sp, sk)) => {
                    star = Some((sp, sk + 1));
                    p = sp;
                    k = sk + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|w| *w == Word::Hash)
}

/// The queues a message with routing key `key` reaches through exchange `x`, in binding
/// order, without duplicates.
pub fn route(x: &ExchangeConfig, key: &[Word]) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    for b in &x.bindings {
        let hit = match x.kind {
            ExchangeKind::Fanout => true,
            ExchangeKind::Direct => b.pattern == key,
            ExchangeKind::Topic => topic_matches(&b.pattern, key),
        };
        if hit && !out.contains(&b.queue) {
            out.push(b.queue);
        }
    }
    out
}

/// The partition of `key` among `partitions` (a stable 64-bit mix of the key, modulo the
/// count): one key always lands on one partition.
pub fn key_partition(key: u32, partitions: u16) -> u16 {
    debug_assert!(partitions > 0);
    // splitmix64 finaliser: consecutive keys spread evenly.
    let mut z = u64::from(key).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z % u64::from(partitions.max(1))) as u16
}

/// Kafka's range assignor: members sorted by id; member `i` of `n` gets a contiguous range of
/// `partitions / n` partitions, the first `partitions % n` members one more. Returns one
/// partition mask per member, in the order of `members`. Members beyond the partition count
/// get nothing; every partition goes to exactly one member when there is at least one.
pub fn assign_range(partitions: u16, members: &[ComponentId]) -> Vec<u64> {
    let n = members.len();
    let mut masks = vec![0u64; n];
    if n == 0 {
        return masks;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| members[i]);
    let parts = usize::from(partitions.min(64));
    let (each, extra) = (parts / n, parts % n);
    let mut next = 0usize;
    for (rank, &i) in order.iter().enumerate() {
        let take = each + usize::from(rank < extra);
        for p in next..next + take {
            masks[i] |= 1u64 << p;
        }
        next += take;
    }
    debug_assert_eq!(next, parts);
    masks
}
