// Package tree implements a key-based prolly tree: a content-addressed
// B-tree mapping byte-string keys (Salesforce record Ids) to small values
// (record blob IDs), whose node boundaries depend only on the keys. The
// shape of a tree is a function of its key set (history independence), so
// equal contents have equal root IDs, edits rewrite only the nodes on their
// paths, and two trees are diffed by skipping subtrees with equal IDs.
//
// Nodes are stored through a NodeStore; the repository assigns their IDs
// (keyed BLAKE3 of the node bytes). The zero ID is the empty tree.
//
// # Node format (version 1)
//
// A node is a byte string:
//
//	node    = version level count entry{count}
//	version = 0x01, or 0x02 for a compact leaf (level 0 only)
//	level   = 1 byte: 0 for a leaf, else 1 + the level of its children (at most 63)
//	count   = uvarint: the number of entries, at least 1
//	leaf entry         = uvarint(len(key)) key uvarint(len(value)) value   (version 0x01)
//	compact leaf entry = uvarint(len(key)) key value                       (version 0x02)
//	internal entry     = uvarint(len(key)) key child-id count
//	child-id = 32 bytes, the ID of the child node
//	count    = uvarint: the number of leaf entries in the child's subtree, at least 1
//
// A compact leaf stores no value lengths: its values are in an encoding
// that delimits itself, which the tree does not know; the NodeStore does
// (ValueDelimiter), and a store without one cannot read compact leaves.
// Given a ValueDelimiter, a leaf is compact exactly when every one of its
// values is non-empty and delimits itself exactly (ValueLen(v) = len(v));
// a length-prefixed leaf of which that holds is rejected, so every leaf has
// one encoding. A store without a ValueDelimiter writes and accepts only
// length-prefixed leaves.
//
// uvarint is the unsigned LEB128 varint of encoding/binary (7 bits per byte,
// least significant group first, high bit set on every byte but the last),
// in its shortest form. Keys are 1..256 bytes, values 0..16384 bytes
// (1..16384 in a compact leaf). Within a node, keys are strictly increasing
// in bytewise (memcmp) order. The key of an internal entry is the last
// (greatest) key of the child's subtree; every key of child i is greater
// than the key of entry i-1. Nothing follows the last entry. Readers reject anything else as ErrCorruptNode, and also
// a child whose level, last key or entry count disagrees with its parent's
// entry. The number of entries of a tree is the sum of the root's counts
// (or its entry count if the root is a leaf).
//
// # Shape (boundary function, version 1)
//
// The tree of a sorted list of entries is built bottom up. Level 0 is the
// list of leaf entries; the entries of level l+1 are one (last key, ID,
// count) per node of level l. Each level is cut into nodes left to right:
// an entry is appended to the current node and, if cut(l, entry) holds, the
// node ends after it. The last node of a level ends at the last entry
// whether or not it was cut. Levels are added until a level consists of a
// single node: that node is the root (so no internal node has a single
// child above a level with one node; a tree of one leaf has that leaf as
// its root).
//
// cut(l, e) depends only on e's key and the keys of the node so far, never
// on values or counts, so that changing a value never moves a boundary:
//
//	weight(e) = len(key) + LeafValueWeight      at level 0
//	weight(e) = len(key) + InternalEntryWeight  at levels ≥ 1 (40)
//	W = the sum of weight over the node's entries so far, e included
//	cut = false                       if W < MinNode
//	cut = true                        if W ≥ MaxNode
//	otherwise: q = 4·weight(e)·W³ (an exact integer; 128-bit arithmetic);
//	  cut = true if q ≥ TargetNode⁴,
//	  else cut = SipHash-2-4(k_l, key) < ⌊q·2⁶⁴ / TargetNode⁴⌋.
//
// The threshold is weight(e) times the hazard 4W³/λ⁴ of a Weibull
// distribution with shape 4 and scale λ = TargetNode, so node sizes cluster
// around the target (as dolt's splitter) instead of spreading geometrically.
// The per-level SipHash keys come from the repository secret Config.Key:
// with S = the first 1024 bytes of the BLAKE3 derive-key output for context
// SaltContext and key material Config.Key, k_l = (k0, k1) with k0 and k1
// the little-endian uint64s at S[16l:] and S[16l+8:]. SipHash-2-4 is
// applied to the key bytes alone.
//
// With the defaults (MinNode 512, TargetNode 4096, MaxNode 16384,
// LeafValueWeight 48) and 18-byte Ids with 32-byte values, leaves average
// ~2.9 KB (~56 entries) and internal nodes fan out ~60-70 ways: 1M entries
// make a 4-level tree of ~18K leaves. Node bytes are bounded through
// weights, not measured: a node holds less than MaxNode plus one entry's
// weight, so with the defaults a leaf of 18-byte Ids and 72-byte values is
// at most ~23 KB, and the worst legal case (1-byte keys, 1 KiB values) is
// ~345 KB. Set LeafValueWeight to the typical value size to keep node bytes
// near TargetNode.
package tree
