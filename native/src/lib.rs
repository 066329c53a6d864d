//! Tifa's native phrase matcher.
//!
//! Every passage a plain phrase occurs in, with the exact number of its occurrences,
//! read straight from the postings of the tantivy index Tifa's embedded backend wrote.
//! The tantivy Python package hands each hit to Python as a tuple and its count only as
//! a BM25 score; for a common pair ("of the": ~300k passages) that costs a hundred times
//! what matching does. Here the hits never become Python objects: packed arrays come
//! back, the passages' numbers and occurrences, sorted by (statement key, passage), and
//! their statements' keys, row ranges and occurrence totals.
//!
//! Occurrences are counted as tantivy's phrase query counts them: every start position
//! at which each phrase word sits at its offset (so overlapping occurrences all count).
//!
//! The index writer is in `writer.rs`; snippet spans on the ASCII path in `snippets.rs`.

mod snippets;
mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tantivy::columnar::{Column, ColumnIndex, ColumnValues};
use tantivy::directory::OwnedBytes;
use tantivy::index::SegmentId;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::store::StoreReader;
use tantivy::{
    DocAddress, DocId, DocSet, Index, IndexReader, ReloadPolicy, Searcher, SegmentReader,
    TantivyDocument, Term, TERMINATED,
};

pub(crate) fn engine_error(err: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("tantivy: {err}"))
}

/// One matching passage: (statement key, passage number, occurrences).
type Row = (i64, u32, u32);

/// The matching passages of one segment, column by column, in document order.
///
/// Columns, not rows: for "of the" on ten million passages (6.4M rows) every copy of the
/// rows was 100 MB of fresh memory, and faulting those pages in cost more than matching
/// (half the query, in the kernel). Rows are never built: the columns are copied once,
/// run by run, into the arrays handed to Python.
#[derive(Default)]
struct Part {
    keys: Vec<i64>,
    pnos: Vec<u32>,
    counts: Vec<u32>,
}

/// A stretch of the output: rows `start..end` of part `part` in order, or (`part` is
/// `SORTED`) rows `start..end` of the re-sorted rows.
#[derive(Clone, Copy)]
struct Piece {
    part: usize,
    start: usize,
    end: usize,
}

const SORTED: usize = usize::MAX;

/// The order in which to copy out the rows of `parts` so that they come sorted by
/// (key, passage number), and the rows that had to be sorted one by one.
///
/// Rows arrive segment by segment in document order, and a statement's passages are
/// added in order, so they come as runs: consecutive rows of one key with rising passage
/// numbers. Sorting the runs by their first row and copying them out costs a sort of a
/// few thousand runs instead of one of every row (for "of the" about 265k rows, where
/// sorting had been a quarter of the match). Runs of one key that interleave (the
/// index writer's threads can share a statement's passages between segments) are
/// sorted row by row, among themselves only.
fn order(parts: &[Part]) -> (Vec<Piece>, Vec<Row>, Statements) {
    let mut runs: Vec<(i64, u32, usize, usize, usize)> = Vec::new(); // (key, first pno, part, start, end)
    for (p, part) in parts.iter().enumerate() {
        let (keys, pnos) = (&part.keys, &part.pnos);
        let mut start = 0usize;
        for i in 1..=keys.len() {
            if i == keys.len() || keys[i] != keys[i - 1] || pnos[i] <= pnos[i - 1] {
                runs.push((keys[start], pnos[start], p, start, i));
                start = i;
            }
        }
    }
    if !runs.is_sorted_by_key(|r| (r.0, r.1)) {
        sort_runs(&mut runs);
    }
    let mut pieces: Vec<Piece> = Vec::new();
    let mut resorted: Vec<Row> = Vec::new();
    let mut statements = Statements {
        keys: Vec::with_capacity(runs.len()),
        starts: Vec::with_capacity(runs.len() + 1),
        occurrences: Vec::with_capacity(runs.len()),
    };
    statements.starts.push(0);
    let mut g = 0;
    while g < runs.len() {
        // The runs of one key: copied in order unless they overlap.
        let mut h = g + 1;
        let mut overlap = false;
        while h < runs.len() && runs[h].0 == runs[g].0 {
            let (_, _, part, _, end) = runs[h - 1];
            overlap |= parts[part].pnos[end - 1] >= runs[h].1;
            h += 1;
        }
        let (mut rows, mut occurrences) = (0i64, 0i64);
        for &(_, _, part, start, end) in &runs[g..h] {
            rows += (end - start) as i64;
            occurrences += parts[part].counts[start..end]
                .iter()
                .map(|&c| i64::from(c))
                .sum::<i64>();
        }
        let last = *statements.starts.last().expect("starts begins with 0");
        statements.keys.push(runs[g].0);
        statements.starts.push(last + rows);
        statements.occurrences.push(occurrences);
        if overlap {
            let from = resorted.len();
            for &(_, _, part, start, end) in &runs[g..h] {
                let part = &parts[part];
                resorted.extend((start..end).map(|i| (part.keys[i], part.pnos[i], part.counts[i])));
            }
            resorted[from..].sort_unstable();
            pieces.push(Piece {
                part: SORTED,
                start: from,
                end: resorted.len(),
            });
        } else {
            for &(_, _, part, start, end) in &runs[g..h] {
                match pieces.last_mut() {
                    // Adjacent runs of one part (statements in key order) copy as one.
                    Some(last) if last.part == part && last.end == start => last.end = end,
                    _ => pieces.push(Piece { part, start, end }),
                }
            }
        }
        g = h;
    }
    (pieces, resorted, statements)
}

/// The statements of ordered rows: statement i has key `keys[i]`, its rows are
/// `starts[i]..starts[i + 1]`, and `occurrences[i]` is the sum of their counts. The search
/// layer groups and ranks by statement; taken from the runs here, it need not scan every
/// row again (for "of the" on ten million passages, 6.4M rows). The rows themselves carry
/// no key: a key a row was 8 bytes of fresh memory to fill and fault in per passage
/// (51 MB for that query), and the statements say it.
struct Statements {
    keys: Vec<i64>,
    starts: Vec<i64>,
    occurrences: Vec<i64>,
}

/// A run of rows: (key, first passage number, part, start, end).
type Run = (i64, u32, usize, usize, usize);

/// Sort runs by (key, first passage number) (see `sort_by_spread_key`).
fn sort_runs(runs: &mut Vec<Run>) {
    if runs.len() < 256 {
        runs.sort_unstable_by_key(|r| (r.0, r.1));
        return;
    }
    sort_by_spread_key(runs, |r| r.0, |r| (r.0, r.1));
}

/// Sort `items` by `by`, whose first part is `key`.
///
/// Statement keys are hashes, spread evenly over their range: the items are first dealt
/// into about as many buckets as there are items by the high bits of their keys (two
/// passes, no comparison), then each bucket, an item or two as a rule, is sorted. For
/// "at the" (10k runs) a comparison sort of the runs had been a fifth of the match. Any
/// keys sort correctly; keys bunched together only make the buckets larger.
fn sort_by_spread_key<T: Copy, K: Ord>(
    items: &mut Vec<T>,
    key: impl Fn(&T) -> i64,
    by: impl Fn(&T) -> K,
) {
    if items.len() < 2 {
        return;
    }
    // Keys as unsigned, in the same order.
    let ukey = |r: &T| (key(r) as u64) ^ (1 << 63);
    let (lo, hi) = items.iter().fold((u64::MAX, 0u64), |(lo, hi), r| {
        (lo.min(ukey(r)), hi.max(ukey(r)))
    });
    let span_bits = u64::BITS - (hi - lo).leading_zeros();
    let bucket_bits = usize::BITS - 1 - items.len().leading_zeros(); // floor(log2(len))
    let shift = span_bits.saturating_sub(bucket_bits);
    let bucket = |r: &T| ((ukey(r) - lo) >> shift) as usize;
    let buckets = ((hi - lo) >> shift) as usize + 1; // at most len + 1
    let mut ends = vec![0usize; buckets + 1];
    for r in items.iter() {
        ends[bucket(r) + 1] += 1;
    }
    for b in 1..ends.len() {
        ends[b] += ends[b - 1];
    }
    let mut next = ends.clone();
    let mut out: Vec<T> = items.clone();
    for r in items.iter() {
        let b = bucket(r);
        out[next[b]] = *r;
        next[b] += 1;
    }
    for b in 0..buckets {
        let slice = &mut out[ends[b]..ends[b + 1]];
        if slice.len() > 1 {
            slice.sort_unstable_by_key(&by);
        }
    }
    *items = out;
}

/// Values that are written to Python as their little-endian bytes.
trait Le: Copy {
    const W: usize;
    fn put(self, out: &mut [u8]);
}

impl Le for i64 {
    const W: usize = 8;
    fn put(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

impl Le for u32 {
    const W: usize = 4;
    fn put(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes()); // read back as i32: same bytes
    }
}

/// `values` as little-endian bytes into `out` (exactly as long): one copy of memory on a
/// little-endian machine, value by value elsewhere. (Value by value everywhere made the
/// 10M "of the" and "in the" matches about 10% slower.)
fn put_all<T: Le>(values: &[T], out: &mut [u8]) {
    // A statement's few rows (most runs are a handful) are copied value by value: a call
    // to memmove for each had been a sixth of matching "at the" (10k runs).
    if values.len() <= 8 {
        for (&v, chunk) in values.iter().zip(out.chunks_exact_mut(T::W)) {
            v.put(chunk);
        }
        return;
    }
    #[cfg(target_endian = "little")]
    {
        // SAFETY: i64 and u32 have no padding and every bit pattern is a valid byte;
        // the slice covers exactly the values' memory.
        let bytes = unsafe {
            std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
        };
        out.copy_from_slice(bytes);
    }
    #[cfg(not(target_endian = "little"))]
    for (&v, chunk) in values.iter().zip(out.chunks_exact_mut(T::W)) {
        v.put(chunk);
    }
}

/// One column of the ordered rows, little-endian, written into `buf`.
fn write_column<T: Le>(
    buf: &mut [u8],
    pieces: &[Piece],
    parts: &[Part],
    resorted: &[Row],
    column: impl Fn(&Part) -> &[T],
    of_row: impl Fn(&Row) -> T,
) {
    let mut at = 0;
    for piece in pieces {
        let n = (piece.end - piece.start) * T::W;
        let out = &mut buf[at..at + n];
        if piece.part == SORTED {
            for (row, chunk) in resorted[piece.start..piece.end]
                .iter()
                .zip(out.chunks_exact_mut(T::W))
            {
                of_row(row).put(chunk);
            }
        } else {
            put_all(&column(&parts[piece.part])[piece.start..piece.end], out);
        }
        at += n;
    }
}

/// What `match_phrase` hands to Python, each a bytes object of little-endian values:
/// the rows' passage numbers (i32) and occurrences (i32), then their statements' keys
/// (i64), row starts (i64, one more than the statements) and occurrences (i64).
type Packed<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
);

/// The ordered rows and their statements as `Packed`, each column written in place.
fn packed<'py>(py: Python<'py>, parts: &[Part]) -> PyResult<Packed<'py>> {
    let (pieces, resorted, statements) = order(parts);
    let n: usize = parts.iter().map(|p| p.keys.len()).sum();
    let pnos = PyBytes::new_with(py, n * 4, |buf| {
        write_column(buf, &pieces, parts, &resorted, |p| &p.pnos, |r| r.1);
        Ok(())
    })?;
    let counts = PyBytes::new_with(py, n * 4, |buf| {
        write_column(buf, &pieces, parts, &resorted, |p| &p.counts, |r| r.2);
        Ok(())
    })?;
    let column = |values: &[i64]| {
        PyBytes::new_with(py, values.len() * 8, |buf| {
            put_all(values, buf);
            Ok(())
        })
    };
    let keys = column(&statements.keys)?;
    let starts = column(&statements.starts)?;
    let occurrences = column(&statements.occurrences)?;
    Ok((pnos, counts, keys, starts, occurrences))
}

/// `rows` in the order `packed` writes them.
fn sorted(rows: Vec<Row>) -> Vec<Row> {
    let part = Part {
        keys: rows.iter().map(|r| r.0).collect(),
        pnos: rows.iter().map(|r| r.1).collect(),
        counts: rows.iter().map(|r| r.2).collect(),
    };
    let parts = [part];
    let (pieces, resorted, _) = order(&parts);
    let mut out = Vec::with_capacity(rows.len());
    for piece in pieces {
        if piece.part == SORTED {
            out.extend_from_slice(&resorted[piece.start..piece.end]);
        } else {
            let p = &parts[piece.part];
            out.extend((piece.start..piece.end).map(|i| (p.keys[i], p.pnos[i], p.counts[i])));
        }
    }
    out
}

#[pyclass(frozen, module = "tifa_native")]
struct PhraseIndex {
    index: Index,
    reader: IndexReader,
    threads: usize,       // matching threads per query
    parallel_from: u64,   // the rarest word's passages from which a query uses them
    deferred_from: u64,   // ... from which a query may be matched statement by statement
    statements_from: u64, // ... from which a pair term is counted from statement documents
    // The doc store reader of each segment, opened once (see `stored_text`).
    stores: Mutex<HashMap<SegmentId, Arc<StoreReader>>>,
}

/// A passage's stored text: a slice of its decompressed doc store block (no copy until
/// Python's), or a copy where tantivy read the document.
#[derive(Clone)]
enum Text {
    Stored(OwnedBytes),
    Owned(Vec<u8>),
}

impl Text {
    fn bytes(&self) -> &[u8] {
        match self {
            Text::Stored(b) => b.as_slice(),
            Text::Owned(v) => v,
        }
    }
}

impl PhraseIndex {
    /// The doc store reader of each of `searcher`'s segments, in its order. Each is
    /// opened once and kept while its segment is searched: opening one per call, and
    /// reading its skip index, was a tenth of a page's reads. (A segment's stored
    /// documents never change; deletes only mark them.)
    fn stores(&self, searcher: &Searcher) -> tantivy::Result<Vec<Arc<StoreReader>>> {
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        let segments = searcher.segment_readers();
        stores.retain(|id, _| segments.iter().any(|s| s.segment_id() == *id));
        segments
            .iter()
            .map(|segment| {
                if let Some(store) = stores.get(&segment.segment_id()) {
                    return Ok(Arc::clone(store));
                }
                let store = Arc::new(segment.get_store_reader(STORE_CACHE_BLOCKS)?);
                stores.insert(segment.segment_id(), Arc::clone(&store));
                Ok(store)
            })
            .collect()
    }
}

/// Blocks each segment's doc store reader keeps decompressed (as tantivy's own readers).
const STORE_CACHE_BLOCKS: usize = 100;

/// Where the `text` bytes of a stored passage document lie in its raw stored bytes.
///
/// tantivy deserialises a bytes value one byte at a time (its `Vec<u8>` goes through
/// the generic `Vec<T>` reader), which was two fifths of fetching a page's passages.
/// The stored form is tantivy's binary document: a VInt count of field values, then
/// for each a u32 field id, a type code and the value. Returns `None` where a value's
/// type is one this reader does not walk (the caller then asks tantivy), `Some(None)`
/// where the document has no text.
fn stored_text(doc: &[u8], text: u32) -> Option<Option<std::ops::Range<usize>>> {
    // Type codes of tantivy's document format (`schema::document::type_codes`).
    const TEXT: u8 = 0;
    const U64: u8 = 1;
    const I64: u8 = 2;
    const BYTES: u8 = 4;
    const DATE: u8 = 5;
    const F64: u8 = 6;
    const BOOL: u8 = 9;
    fn vint(doc: &[u8], at: &mut usize) -> Option<usize> {
        // Seven bits a byte, least significant first; the last byte has the high bit.
        let mut value = 0usize;
        for shift in (0..64).step_by(7) {
            let b = *doc.get(*at)?;
            *at += 1;
            value |= usize::from(b & 0x7f) << shift;
            if b & 0x80 != 0 {
                return Some(value);
            }
        }
        None
    }
    let mut at = 0usize;
    let n = vint(doc, &mut at)?;
    for _ in 0..n {
        let field = u32::from_le_bytes(doc.get(at..at + 4)?.try_into().ok()?);
        let code = *doc.get(at + 4)?;
        at += 5;
        match code {
            TEXT | BYTES => {
                let len = vint(doc, &mut at)?;
                let value = at..at.checked_add(len)?;
                doc.get(value.clone())?; // within the document
                if field == text && code == BYTES {
                    return Some(Some(value));
                }
                at = value.end;
            }
            U64 | I64 | DATE | F64 => at += 8,
            BOOL => at += 1,
            _ => return None,
        }
    }
    Some(None)
}

#[pymethods]
impl PhraseIndex {
    /// `threads`: how many threads match one query (default: one per core, at most 4);
    /// `parallel_from`: a phrase uses them when its rarest word is in at least that many
    /// passages (default `PARALLEL_FROM`; 0: always, as tests ask); `deferred_from`: a
    /// phrase may be matched statement by statement first when its rarest word is in at
    /// least that many passages (default `DEFERRED_FROM`; 0: always); `statements_from`:
    /// a pair term so matched is counted from its statements' documents when in at least
    /// that many passages (default: `STATEMENTS_FROM` or `deferred_from`, the fewer).
    #[new]
    #[pyo3(signature = (path, threads=None, parallel_from=None, deferred_from=None, statements_from=None))]
    fn new(
        path: PathBuf,
        threads: Option<usize>,
        parallel_from: Option<u64>,
        deferred_from: Option<u64>,
        statements_from: Option<u64>,
    ) -> PyResult<Self> {
        let threads = threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));
        let index = Index::open_in_dir(&path)
            .map_err(|e| PyOSError::new_err(format!("cannot open {}: {e}", path.display())))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(engine_error)?;
        Ok(PhraseIndex {
            index,
            reader,
            threads,
            parallel_from: parallel_from.unwrap_or(PARALLEL_FROM),
            deferred_from: deferred_from.unwrap_or(DEFERRED_FROM),
            statements_from: statements_from
                .unwrap_or(STATEMENTS_FROM.min(deferred_from.unwrap_or(DEFERRED_FROM))),
            stores: Mutex::new(HashMap::new()),
        })
    }

    /// See the index as of its latest commit.
    fn reload(&self, py: Python<'_>) -> PyResult<()> {
        py.allow_threads(|| self.reader.reload())
            .map_err(engine_error)
    }

    /// How many threads match one query's segments.
    #[getter]
    fn threads(&self) -> usize {
        self.threads
    }

    /// Number of documents (all kinds) in the current view; for tests.
    fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The stored text of each passage (statement key, passage number) asked for, in
    /// order: None where the index has no such passage or it was stored without text.
    fn passage_texts<'py>(
        &self,
        py: Python<'py>,
        keys: Vec<i64>,
        pnos: Vec<u32>,
    ) -> PyResult<Vec<Option<Bound<'py, PyBytes>>>> {
        if keys.len() != pnos.len() {
            return Err(PyValueError::new_err("keys and pnos differ in length"));
        }
        let schema = self.index.schema();
        let key_field = schema.get_field("key").map_err(engine_error)?;
        let text_field = schema.get_field("text").map_err(engine_error)?;
        // Each distinct (key, passage) once: a repeated pair shares the first one's text.
        let mut want: HashMap<(i64, u32), usize> = HashMap::new();
        for (i, pair) in keys.iter().copied().zip(pnos.iter().copied()).enumerate() {
            want.entry(pair).or_insert(i);
        }
        let found = py.allow_threads(|| -> tantivy::Result<Vec<Option<Text>>> {
            // How many passages are still to be found per statement: a statement's live
            // passages sit in one segment (see `DocWriter::add_statement`; an index
            // written before may have split them), so once they are all found the other
            // segments' term dictionaries are not asked for its key.
            let mut remaining: HashMap<i64, usize> = HashMap::new();
            for &(key, _) in want.keys() {
                *remaining.entry(key).or_default() += 1;
            }
            let mut distinct: Vec<i64> = remaining.keys().copied().collect();
            distinct.sort_unstable();
            let mut out: Vec<Option<Text>> = vec![None; keys.len()];
            let searcher = self.reader.searcher();
            let stores = self.stores(&searcher)?;
            // Largest segments first: they hold most statements.
            let mut segments: Vec<(u32, &SegmentReader)> =
                (0u32..).zip(searcher.segment_readers()).collect();
            segments.sort_by_key(|(_, s)| std::cmp::Reverse(s.num_docs()));
            for (ord, segment) in segments {
                let inverted = segment.inverted_index(key_field)?;
                // Only passage documents have a `pno` (a statement's own document, under
                // the same key, has none).
                let pno = segment.fast_fields().i64("pno")?;
                let alive = segment.alive_bitset();
                for &key in &distinct {
                    if remaining[&key] == 0 {
                        continue;
                    }
                    let term = Term::from_field_i64(key_field, key);
                    let Some(mut postings) =
                        inverted.read_postings(&term, IndexRecordOption::Basic)?
                    else {
                        continue;
                    };
                    let mut doc = postings.doc();
                    while doc != TERMINATED {
                        let wanted = alive
                            .is_none_or(|bits| bits.is_alive(doc))
                            .then(|| pno.first(doc))
                            .flatten()
                            .and_then(|n| want.get(&(key, n as u32)));
                        if let Some(&i) = wanted {
                            if let Some(left) = remaining.get_mut(&key) {
                                *left = left.saturating_sub(1);
                            }
                            // A passage stored without its text (schema < 4) stays None.
                            let bytes = stores[ord as usize].get_document_bytes(doc)?;
                            out[i] = match stored_text(&bytes, text_field.field_id()) {
                                Some(found) => found.map(|range| Text::Stored(bytes.slice(range))),
                                None => {
                                    let stored: TantivyDocument =
                                        searcher.doc(DocAddress::new(ord, doc))?;
                                    stored
                                        .get_first(text_field)
                                        .and_then(|v| v.as_bytes())
                                        .map(|t| Text::Owned(t.to_vec()))
                                }
                            };
                        }
                        doc = postings.advance();
                    }
                }
            }
            Ok(out)
        });
        let found = found.map_err(engine_error)?;
        let texts = keys
            .iter()
            .copied()
            .zip(pnos.iter().copied())
            .map(|pair| {
                found[want[&pair]]
                    .as_ref()
                    .map(|t| PyBytes::new(py, t.bytes()))
            })
            .collect();
        Ok(texts)
    }

    /// The passages in which `tokens` occur consecutively in `field`, leaving out
    /// passages that carry `exclude_term` in `exclude_field` (if given), passages of the
    /// statements whose keys `skip_keys` holds (little-endian i64s, if given) and
    /// passages without every one of `gates` in `gate_field` (see `Phrase`).
    /// Returns five little-endian arrays as bytes (`Packed`): the rows' passage numbers
    /// (i32) and occurrences (i32), sorted by (statement key, passage number); then their
    /// statements' keys (i64, ascending), where each statement's rows start (i64, and the
    /// end) and its occurrences (i64); and None.
    ///
    /// With `defer`, a phrase whose rarest word (or gate) is in at least `deferred_from`
    /// passages is matched statement by statement: the rows come back empty, and the
    /// sixth value is a `Deferred` that reads them, all or a few statements' worth, from
    /// the same view of the index (see `Deferred`).
    #[pyo3(signature = (field, tokens, exclude_field=None, exclude_term=None, skip_keys=None, gate_field=None, gates=None, defer=false))]
    #[allow(clippy::too_many_arguments)] // the Python signature, keyword arguments
    fn match_phrase<'py>(
        &self,
        py: Python<'py>,
        field: &str,
        tokens: Vec<String>,
        exclude_field: Option<&str>,
        exclude_term: Option<&str>,
        skip_keys: Option<&[u8]>,
        gate_field: Option<&str>,
        gates: Option<Vec<String>>,
        defer: bool,
    ) -> PyResult<(Packed<'py>, Option<Deferred>)> {
        if tokens.is_empty() {
            return Err(PyValueError::new_err("a phrase needs at least one token"));
        }
        let schema = self.index.schema();
        let field = schema.get_field(field).map_err(engine_error)?;
        let gates: Vec<Term> = match (gate_field, gates) {
            (Some(f), Some(g)) => {
                let f = schema.get_field(f).map_err(engine_error)?;
                g.iter().map(|t| Term::from_field_text(f, t)).collect()
            }
            _ => Vec::new(),
        };
        let exclude = match (exclude_field, exclude_term) {
            (Some(f), Some(t)) => Some(Term::from_field_text(
                schema.get_field(f).map_err(engine_error)?,
                t,
            )),
            _ => None,
        };
        let skip = match skip_keys {
            Some(b) => Some(sorted_keys(b)?),
            None => None,
        };
        // A pair term alone (nothing left out, no gate) can be counted statement by
        // statement from the statements' own documents.
        let statement_fields = match (
            schema.get_field(STATEMENT_PAIR_FIELDS.0),
            schema.get_field(STATEMENT_PAIR_FIELDS.1),
        ) {
            (Ok(passages), Ok(more))
                if schema.get_field_name(field) == PAIRS_FIELD
                    && tokens.len() == 1
                    && exclude.is_none()
                    && gates.is_empty() =>
            {
                Some((passages, more))
            }
            _ => None,
        };
        let phrase = Phrase {
            field,
            tokens,
            exclude,
            skip,
            gates,
            statement_fields,
        };
        let searcher = self.reader.searcher();
        let found = py.allow_threads(|| -> tantivy::Result<Matched> {
            // A phrase whose rarest word is in few passages is matched in well under a
            // millisecond: starting a thread for it (about 0.1 ms here) would cost more
            // than it saves. The rarest word's document frequency says which it is.
            let lead = phrase.lead_doc_freq(&searcher)?;
            let threads = if lead < phrase.parallel_from(self.parallel_from) {
                1
            } else {
                self.threads
            };
            if let Some(fields) = phrase.statement_fields {
                if defer && lead >= self.statements_from {
                    // A statement document per matching statement: few enough for one thread.
                    let runs = phrase.run(&searcher, 1, |ord, segment| {
                        phrase.pair_statements_in(ord, segment, fields)
                    })?;
                    return Ok(Matched::Statements(runs, true));
                }
            }
            if defer && lead >= self.deferred_from {
                return Ok(Matched::Statements(
                    phrase.run(&searcher, threads, |ord, segment| {
                        phrase.statements_in(ord, segment)
                    })?,
                    false,
                ));
            }
            Ok(Matched::Rows(phrase.run(
                &searcher,
                threads,
                |_, segment| phrase.rows_in(segment, None),
            )?))
        });
        match found.map_err(engine_error)? {
            // Segments in any order: their runs are merged by `order`.
            Matched::Rows(parts) => Ok((packed(py, &parts)?, None)),
            Matched::Statements(runs, by_statement) => {
                let (statements, runs) = merged(runs);
                let empty = PyBytes::new(py, b"");
                let column = |values: &[i64]| {
                    PyBytes::new_with(py, values.len() * 8, |buf| {
                        put_all(values, buf);
                        Ok(())
                    })
                };
                let packed = (
                    empty.clone(),
                    empty,
                    column(&statements.keys)?,
                    column(&statements.starts)?,
                    column(&statements.occurrences)?,
                );
                let deferred = Deferred {
                    searcher,
                    phrase,
                    runs,
                    by_statement,
                    threads: self.threads,
                    parallel_from: self.parallel_from,
                };
                Ok((packed, Some(deferred)))
            }
        }
    }
}

/// What one match made: every segment's rows, or (deferred) its statements' runs, and
/// whether they were counted from the statements' documents (their stretches then are
/// where the passages should be, checked when read: see `Deferred::stretches`).
enum Matched {
    Rows(Vec<Part>),
    Statements(Vec<Runs>, bool),
}

/// Ascending i64 keys from their little-endian bytes.
fn sorted_keys(bytes: &[u8]) -> PyResult<Vec<i64>> {
    if !bytes.len().is_multiple_of(8) {
        return Err(PyValueError::new_err("keys are not a whole number of i64s"));
    }
    // Sorted and searched, not hashed: a year filter turns away thousands of
    // statements, and building a set of them cost more than the searches do.
    let mut keys: Vec<i64> = bytes
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("chunks of 8")))
        .collect();
    if !keys.is_sorted() {
        keys.sort_unstable();
    }
    Ok(keys)
}

/// A phrase matched statement by statement, whose rows are read when asked.
///
/// A common pair at scale ("of the" on ten million passages: 6.4M rows) spent most of
/// its match making rows: ordering them, copying them out, faulting in their memory.
/// A search needs its statements (to count, rank and facet them) and the rows of the
/// twenty on its page; the rest only an export or a timeline asks for. The view of the
/// index (the searcher) is kept, so the rows read later are those the statements were
/// counted from, whatever was written since.
///
/// Where each statement's matching passages lie is kept too (`runs`, by key): a page's
/// rows are read from those stretches of its segments alone.
#[pyclass(frozen, module = "tifa_native")]
struct Deferred {
    searcher: Searcher,
    phrase: Phrase,
    runs: Vec<Located>,
    by_statement: bool,
    threads: usize,
    parallel_from: u64,
}

/// Stretches of a segment's documents (first, last; ascending, apart) and the statement
/// keys (ascending) whose passages in them are wanted.
type Stretches<'a> = (&'a [(DocId, DocId)], &'a [i64]);

/// A run of one statement's matching passages: its key, segment (ordinal in the
/// searcher) and first and last document.
#[derive(Clone, Copy)]
struct Located {
    key: i64,
    segment: u32,
    first: DocId,
    last: DocId,
}

#[pymethods]
impl Deferred {
    /// The rows (as `PhraseIndex.match_phrase` packs them) of the statements whose keys
    /// `only_keys` holds (little-endian i64s), or of every statement.
    #[pyo3(signature = (only_keys=None))]
    fn rows<'py>(&self, py: Python<'py>, only_keys: Option<&[u8]>) -> PyResult<Packed<'py>> {
        let only = match only_keys {
            Some(b) => Some(sorted_keys(b)?),
            None => None,
        };
        let phrase = &self.phrase;
        let parts = py.allow_threads(|| -> tantivy::Result<Vec<Part>> {
            let Some(only) = &only else {
                let few = phrase.lead_doc_freq(&self.searcher)?
                    < phrase.parallel_from(self.parallel_from);
                let threads = if few { 1 } else { self.threads };
                return phrase.run(&self.searcher, threads, |_, segment| {
                    phrase.rows_in(segment, None)
                });
            };
            // A few statements: their runs' stretches of documents, segment by segment,
            // on one thread.
            let mut stretches = self.stretches(only)?;
            stretches.sort_unstable();
            let segments = self.searcher.segment_readers();
            let mut parts = Vec::new();
            for chunk in stretches.chunk_by(|a, b| a.0 == b.0) {
                let segment = &segments[chunk[0].0 as usize];
                // Stretches that meet become one: documents are visited in order, once.
                let mut within: Vec<(DocId, DocId)> = Vec::with_capacity(chunk.len());
                for &(_, first, last) in chunk {
                    match within.last_mut() {
                        Some(prev) if first <= prev.1.saturating_add(1) => {
                            prev.1 = prev.1.max(last);
                        }
                        _ => within.push((first, last)),
                    }
                }
                parts.push(phrase.rows_in(segment, Some((&within, only)))?);
            }
            Ok(parts)
        });
        packed(py, &parts.map_err(engine_error)?)
    }
}

impl Deferred {
    /// The stretches of documents (segment, first, last) that hold the passages of the
    /// statements `only` (ascending keys) among those matched.
    ///
    /// Counted from a statement's own document, a statement's stretch is the documents
    /// just before it, as many as it has passages: where the native writer put them, in
    /// one batch. The tantivy package's writer may have split them between segments, so
    /// each stretch is checked (every document alive and of the statement); where one is
    /// not, the statement's documents are looked up by its key in every segment.
    fn stretches(&self, only: &[i64]) -> tantivy::Result<Vec<(u32, DocId, DocId)>> {
        let segments = self.searcher.segment_readers();
        let mut stretches: Vec<(u32, DocId, DocId)> = Vec::new();
        let mut lost: Vec<i64> = Vec::new();
        let mut keys: Vec<i64> = Vec::new();
        let mut key_columns: HashMap<u32, Column<i64>> = HashMap::new();
        for &key in only {
            let from = self.runs.partition_point(|r| r.key < key);
            for run in self.runs[from..].iter().take_while(|r| r.key == key) {
                if !self.by_statement {
                    stretches.push((run.segment, run.first, run.last));
                    continue;
                }
                let segment = &segments[run.segment as usize];
                let column = match key_columns.entry(run.segment) {
                    std::collections::hash_map::Entry::Occupied(found) => found.into_mut(),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(segment.fast_fields().i64("key")?)
                    }
                };
                let docs: Vec<DocId> = (run.first..=run.last).collect();
                keys.resize(docs.len(), 0);
                fill_values(column, &docs, &mut keys);
                let alive = segment.alive_bitset();
                let whole = run.first < run.last.saturating_add(1)
                    && keys.iter().all(|&k| k == key)
                    && docs
                        .iter()
                        .all(|&d| alive.is_none_or(|bits| bits.is_alive(d)));
                if whole {
                    stretches.push((run.segment, run.first, run.last));
                } else {
                    lost.push(key);
                }
            }
        }
        if lost.is_empty() {
            return Ok(stretches);
        }
        let key_field = self.searcher.schema().get_field("key")?;
        for (ord, segment) in (0u32..).zip(segments) {
            let inverted = segment.inverted_index(key_field)?;
            let alive = segment.alive_bitset();
            for &key in &lost {
                let term = Term::from_field_i64(key_field, key);
                let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)?
                else {
                    continue;
                };
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    if alive.is_none_or(|bits| bits.is_alive(doc)) {
                        stretches.push((ord, doc, doc));
                    }
                    doc = postings.advance();
                }
            }
        }
        Ok(stretches)
    }
}

/// Phrases whose rarest word is in fewer passages than this are matched on one thread.
/// On the UN corpus a rare name ("Nehru", "Kofi Annan": a few hundred to 1,400 passages)
/// took 0.04-0.3 ms on one thread and 0.1 ms more on two, while "climate change" (its
/// rarer word in about 13k passages) took 1.7 ms on two and 2.0 on one.
const PARALLEL_FROM: u64 = 4_096;

/// Phrases whose rarest word is in at least this many passages are matched statement by
/// statement first when the caller can take that (see `Deferred`). Reading a page's
/// rows later costs a second call, about 0.1-0.2 ms: on the UN corpus a rare name lost
/// that much deferred, "climate change" (its pair term in 7.6k passages) broke even, and
/// "human rights" (18k) gained 7-17% of its whole search.
const DEFERRED_FROM: u64 = 16_384;

/// A pair term in at least this many passages is counted from its statements' documents
/// when the caller can take that (see `Deferred`).
const STATEMENTS_FROM: u64 = 4_096;

/// The embedded index's field of pair terms, and the statement documents' fields of
/// their passages' pair terms (`PAIRS` and `STATEMENT_PAIRS` in
/// `indexer/backends/embedded.py`).
const PAIRS_FIELD: &str = "pairs";
const STATEMENT_PAIR_FIELDS: (&str, &str) = ("stmt_pair_passages", "stmt_pair_more");

/// The segments split into at most `threads` groups of about equal size (largest first,
/// each to the lightest group), matched in parallel: one query uses every core, as
/// tantivy's own search does with an executor.
/// Each segment comes with its ordinal among `segments`.
fn segment_groups(segments: &[SegmentReader], threads: usize) -> Vec<Vec<(u32, &SegmentReader)>> {
    let n = threads.clamp(1, segments.len().max(1));
    let mut order: Vec<(u32, &SegmentReader)> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| (i as u32, s))
        .collect();
    order.sort_by_key(|s| std::cmp::Reverse(s.1.max_doc()));
    let mut groups: Vec<(u64, Vec<(u32, &SegmentReader)>)> = vec![(0, Vec::new()); n];
    for segment in order {
        let lightest = groups.iter_mut().min_by_key(|g| g.0).expect("n >= 1");
        lightest.0 += u64::from(segment.1.max_doc());
        lightest.1.push(segment);
    }
    groups
        .into_iter()
        .map(|g| g.1)
        .filter(|g| !g.is_empty())
        .collect()
}

/// What is matched: `tokens` consecutively in `field`, leaving out passages that carry
/// `exclude`, the passages of the statements `skip` holds (ascending), and passages
/// without every term of `gates`.
///
/// Gates are terms every matching passage must hold: the pair terms of a longer
/// phrase's adjacent words (a passage holding "international peace and security" holds
/// the pair "international_peace"). A pair is often rarer than each of its words, and a
/// passage without it is passed over before any position is read: "international peace
/// and security" read the positions of "and" in every passage with "security" before.
struct Phrase {
    field: Field,
    tokens: Vec<String>,
    exclude: Option<Term>,
    skip: Option<Vec<i64>>,
    gates: Vec<Term>,
    /// For a pair term alone: the statement documents' fields of its occurrences and of
    /// its passages (see `pair_statements_in`); None for anything else.
    statement_fields: Option<(Field, Field)>,
}

/// Matching statements of one segment, as runs of passages in document order: a
/// statement's key, its passages in the run, their occurrences, and the run's first and
/// last document. A statement's passages are as a rule one run; where the index writer
/// split them, its runs are summed by `merged`.
#[derive(Default)]
struct Runs {
    segment: u32,
    keys: Vec<i64>,
    passages: Vec<u32>,
    occurrences: Vec<u64>,
    firsts: Vec<DocId>,
    lasts: Vec<DocId>,
}

/// Documents matched before their keys are read, in one batch per column.
const CHUNK: usize = 4_096;

impl Phrase {
    /// From how many passages of its rarest word this phrase is matched on several
    /// threads: `positional`'s for a phrase of several words, eight times as many for one
    /// word (or pair term), whose postings are read without positions at a fraction of
    /// the cost a passage. On the UN corpus "human rights" (one pair term, 18k passages)
    /// took 0.78 ms on one thread and 0.91 on two; "of the" (265k) 5.9 and 3.9.
    fn parallel_from(&self, positional: u64) -> u64 {
        if self.tokens.len() == 1 {
            positional.saturating_mul(8)
        } else {
            positional
        }
    }

    /// The document frequency of the rarest word or gate: at most that many passages match.
    fn lead_doc_freq(&self, searcher: &Searcher) -> tantivy::Result<u64> {
        let mut lead = u64::MAX;
        for tok in &self.tokens {
            lead = lead.min(searcher.doc_freq(&Term::from_field_text(self.field, tok))?);
        }
        for gate in &self.gates {
            lead = lead.min(searcher.doc_freq(gate)?);
        }
        Ok(lead)
    }

    /// `each` of the searcher's segments, in `threads` groups matched in parallel.
    fn run<T: Send>(
        &self,
        searcher: &Searcher,
        threads: usize,
        each: impl Fn(u32, &SegmentReader) -> tantivy::Result<T> + Sync,
    ) -> tantivy::Result<Vec<T>> {
        let groups = segment_groups(searcher.segment_readers(), threads);
        std::thread::scope(|scope| -> tantivy::Result<Vec<T>> {
            let each = &each;
            let run = move |group: Vec<(u32, &SegmentReader)>| -> tantivy::Result<Vec<T>> {
                group.into_iter().map(|(ord, s)| each(ord, s)).collect()
            };
            let mut groups = groups.into_iter();
            let mine = groups.next().unwrap_or_default();
            let others: Vec<_> = groups.map(|g| scope.spawn(move || run(g))).collect();
            let mut found = run(mine)?;
            for other in others {
                found.extend(other.join().expect("a matching thread panicked")?);
            }
            Ok(found)
        })
    }

    /// The matching passages of one segment; with `only` (stretches of documents,
    /// ascending, and statement keys, ascending), those in the stretches of those
    /// statements.
    fn rows_in(
        &self,
        segment: &SegmentReader,
        only: Option<Stretches<'_>>,
    ) -> tantivy::Result<Part> {
        let fast = segment.fast_fields();
        let mut sink = RowSink {
            part: Part::default(),
            key_column: fast.i64("key")?,
            pnt_column: fast.u64("pnt")?,
            keys: Vec::new(),
            pnts: Vec::new(),
            only_keys: only.map(|o| o.1),
        };
        self.matches_in(segment, only.map(|o| o.0), &mut sink)?;
        Ok(sink.part)
    }

    /// The matching statements of segment `ord`, as runs (no row is kept).
    fn statements_in(&self, ord: u32, segment: &SegmentReader) -> tantivy::Result<Runs> {
        let mut sink = RunSink {
            runs: Runs {
                segment: ord,
                ..Runs::default()
            },
            key_column: segment.fast_fields().i64("key")?,
            keys: Vec::new(),
        };
        self.matches_in(segment, None, &mut sink)?;
        Ok(sink.runs)
    }

    /// The statements of segment `ord` that hold this pair term, counted from their own
    /// documents: `fields` hold each passage's distinct pair terms and their further
    /// occurrences in it, so the first's frequency is the statement's passages holding
    /// the pair and the two add up to its occurrences. A run's stretch is where the
    /// statement's passages were written (its document's `pnt` is how many), checked
    /// before its rows are read (`Deferred::stretches`).
    fn pair_statements_in(
        &self,
        ord: u32,
        segment: &SegmentReader,
        fields: (Field, Field),
    ) -> tantivy::Result<Runs> {
        let mut runs = Runs {
            segment: ord,
            ..Runs::default()
        };
        let pair = &self.tokens[0];
        let read = |field: Field| -> tantivy::Result<Option<SegmentPostings>> {
            Ok(segment.inverted_index(field)?.read_postings(
                &Term::from_field_text(field, pair),
                IndexRecordOption::WithFreqs,
            )?)
        };
        let Some(mut passages) = read(fields.0)? else {
            return Ok(runs);
        };
        let mut more = read(fields.1)?;
        let alive = segment.alive_bitset();
        let (mut docs, mut psgs, mut occs) = (Vec::new(), Vec::new(), Vec::new());
        let mut doc = passages.doc();
        while doc != TERMINATED {
            if alive.is_none_or(|bits| bits.is_alive(doc)) {
                let n = passages.term_freq();
                // Further occurrences: only where a passage holds the pair twice or more.
                let extra = match more.as_mut() {
                    Some(m) => {
                        let at = if m.doc() < doc { m.seek(doc) } else { m.doc() };
                        if at == doc {
                            m.term_freq()
                        } else {
                            0
                        }
                    }
                    None => 0,
                };
                docs.push(doc);
                psgs.push(n);
                occs.push(u64::from(n) + u64::from(extra));
            }
            doc = passages.advance();
        }
        let fast = segment.fast_fields();
        let mut keys = vec![0i64; docs.len()];
        fill_values(&fast.i64("key")?, &docs, &mut keys);
        let mut counts = vec![0u64; docs.len()];
        fill_values(&fast.u64("pnt")?, &docs, &mut counts);
        for (i, &doc) in docs.iter().enumerate() {
            let key = keys[i];
            if let Some(skip) = &self.skip {
                if skip.binary_search(&key).is_ok() {
                    continue;
                }
            }
            let passages = u32::try_from(counts[i]).unwrap_or(u32::MAX);
            runs.keys.push(key);
            runs.passages.push(psgs[i]);
            runs.occurrences.push(occs[i]);
            runs.firsts.push(doc.saturating_sub(passages));
            runs.lasts.push(doc.saturating_sub(1));
        }
        Ok(runs)
    }

    /// Match one segment into `sink`. With `within`, just the documents of those
    /// stretches (first, last; ascending) are looked at.
    fn matches_in<S: Sink>(
        &self,
        segment: &SegmentReader,
        within: Option<&[(DocId, DocId)]>,
        sink: &mut S,
    ) -> tantivy::Result<()> {
        let inverted = segment.inverted_index(self.field)?;
        // Each distinct word once; `slot[i]` is the word at phrase offset i.
        let mut words: Vec<&str> = Vec::new();
        let mut slot: Vec<usize> = Vec::with_capacity(self.tokens.len());
        for tok in &self.tokens {
            let at = match words.iter().position(|w| *w == tok.as_str()) {
                Some(at) => at,
                None => {
                    words.push(tok);
                    words.len() - 1
                }
            };
            slot.push(at);
        }
        // One word (a pair term among them): its frequencies are the counts, and postings
        // read without positions skip their bookkeeping on every document.
        let single = self.tokens.len() == 1;
        let record = if single {
            IndexRecordOption::WithFreqs
        } else {
            IndexRecordOption::WithFreqsAndPositions
        };
        // The words' postings, then the gates' (documents only).
        let mut postings: Vec<SegmentPostings> = Vec::with_capacity(words.len() + self.gates.len());
        for word in &words {
            let term = Term::from_field_text(self.field, word);
            match inverted.read_postings(&term, record)? {
                Some(p) => postings.push(p),
                None => return Ok(()), // a word absent from the segment: no passage here
            }
        }
        for gate in &self.gates {
            let inverted = segment.inverted_index(gate.field())?;
            match inverted.read_postings(gate, IndexRecordOption::Basic)? {
                Some(p) => postings.push(p),
                None => return Ok(()),
            }
        }
        let mut excluded = match &self.exclude {
            Some(term) => segment
                .inverted_index(term.field())?
                .read_postings(term, IndexRecordOption::Basic)?,
            None => None,
        };
        let key_column = segment.fast_fields().i64("key")?;
        let alive = segment.alive_bitset();

        // Drive the intersection with the rarest word.
        let mut order: Vec<usize> = (0..postings.len()).collect();
        order.sort_by_key(|&i| postings[i].doc_freq());
        let lead = order[0];
        let mut positions: Vec<Vec<u32>> = vec![Vec::new(); words.len()];
        let (mut starts, mut kept): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        let (mut docs, mut counts): (Vec<DocId>, Vec<u32>) =
            (Vec::with_capacity(CHUNK), Vec::with_capacity(CHUNK));
        let (mut last_key, mut have_key, mut last_skipped) = (0i64, false, false);
        let n_words = words.len();

        // The occurrences in `doc`, where every postings list is on it (0: none, or the
        // passage is left out).
        let mut count_in = |doc: DocId, postings: &mut [SegmentPostings]| -> u32 {
            if let Some(skip) = &self.skip {
                // Before any position is read: a filtered phrase decodes positions only
                // in the statements the filters admit. A statement's passages are
                // contiguous, so the set is asked once per statement, not per passage.
                let key = key_column.first(doc).unwrap_or(0);
                if key != last_key || !have_key {
                    (last_key, have_key) = (key, true);
                    last_skipped = skip.binary_search(&key).is_ok();
                }
                if last_skipped {
                    return 0;
                }
            }
            if !alive.is_none_or(|bits| bits.is_alive(doc)) {
                return 0;
            }
            if let Some(p) = excluded.as_mut() {
                if p.doc() <= doc && p.seek(doc) == doc {
                    return 0;
                }
            }
            if single {
                return postings[0].term_freq();
            }
            for (i, p) in postings.iter_mut().take(n_words).enumerate() {
                positions[i].clear();
                p.positions(&mut positions[i]);
            }
            phrase_count(&positions, &slot, &mut starts, &mut kept)
        };
        let found =
            |doc: DocId, count: u32, docs: &mut Vec<DocId>, counts: &mut Vec<u32>, sink: &mut S| {
                docs.push(doc);
                counts.push(count);
                if docs.len() == CHUNK {
                    sink.take(docs, counts);
                    docs.clear();
                    counts.clear();
                }
            };

        if let Some(within) = within {
            sink.reserve(within.iter().map(|&(f, l)| (l - f + 1) as usize).sum());
            let wanted = within.iter().flat_map(|&(first, last)| first..=last);
            'docs: for doc in wanted {
                for p in postings.iter_mut() {
                    let at = if p.doc() < doc { p.seek(doc) } else { p.doc() };
                    if at != doc {
                        continue 'docs;
                    }
                }
                let count = count_in(doc, &mut postings);
                if count > 0 {
                    found(doc, count, &mut docs, &mut counts, sink);
                }
            }
        } else {
            sink.reserve(postings[lead].doc_freq() as usize);
            let mut doc: DocId = postings[lead].doc();
            while doc != TERMINATED {
                // Leapfrog: seek every other word to `doc`; restart from the furthest.
                let mut candidate = doc;
                for &i in &order[1..] {
                    let d = postings[i].seek(candidate);
                    if d > candidate {
                        candidate = d;
                        break;
                    }
                }
                if candidate != doc {
                    if candidate == TERMINATED {
                        break;
                    }
                    doc = postings[lead].seek(candidate);
                    continue;
                }
                let count = count_in(doc, &mut postings);
                if count > 0 {
                    found(doc, count, &mut docs, &mut counts, sink);
                }
                doc = postings[lead].advance();
            }
        }
        if !docs.is_empty() {
            sink.take(&docs, &counts);
        }
        Ok(())
    }
}

/// Where a segment's matches go, a chunk of documents (ascending) at a time.
trait Sink {
    /// At most this many passages will match.
    fn reserve(&mut self, _most: usize) {}
    /// Matching documents and their occurrences.
    fn take(&mut self, docs: &[DocId], counts: &[u32]);
}

/// Rows: each passage's key, number and occurrences (of the statements `only_keys`
/// holds, ascending, if given: a stretch of documents may hold others').
struct RowSink<'a> {
    part: Part,
    key_column: Column<i64>,
    pnt_column: Column<u64>,
    keys: Vec<i64>,
    pnts: Vec<u64>,
    only_keys: Option<&'a [i64]>,
}

impl Sink for RowSink<'_> {
    fn reserve(&mut self, most: usize) {
        // Room for every document of the rarest word up front, not regrown (and
        // copied) while matching.
        self.part.keys.reserve(most);
        self.part.pnos.reserve(most);
        self.part.counts.reserve(most);
    }

    fn take(&mut self, docs: &[DocId], counts: &[u32]) {
        // Fast fields read in one batch per column.
        self.keys.resize(docs.len(), 0);
        self.pnts.resize(docs.len(), 0);
        fill_values(&self.key_column, docs, &mut self.keys);
        fill_values(&self.pnt_column, docs, &mut self.pnts);
        if let Some(only) = self.only_keys {
            for ((&key, &pnt), &count) in self.keys.iter().zip(&self.pnts).zip(counts) {
                if only.binary_search(&key).is_ok() {
                    self.part.keys.push(key);
                    self.part.pnos.push((pnt >> 32) as u32);
                    self.part.counts.push(count);
                }
            }
            return;
        }
        self.part.keys.extend_from_slice(&self.keys);
        self.part
            .pnos
            .extend(self.pnts.iter().map(|&pnt| (pnt >> 32) as u32));
        self.part.counts.extend_from_slice(counts);
    }
}

/// Statements: runs of one key's passages, summed as they come.
struct RunSink {
    runs: Runs,
    key_column: Column<i64>,
    keys: Vec<i64>,
}

impl Sink for RunSink {
    fn take(&mut self, docs: &[DocId], counts: &[u32]) {
        self.keys.resize(docs.len(), 0);
        fill_values(&self.key_column, docs, &mut self.keys);
        let runs = &mut self.runs;
        for ((&key, &count), &doc) in self.keys.iter().zip(counts).zip(docs) {
            if runs.keys.last() == Some(&key) {
                *runs.passages.last_mut().expect("a run per key") += 1;
                *runs.occurrences.last_mut().expect("a run per key") += u64::from(count);
                *runs.lasts.last_mut().expect("a run per key") = doc;
            } else {
                runs.keys.push(key);
                runs.passages.push(1);
                runs.occurrences.push(u64::from(count));
                runs.firsts.push(doc);
                runs.lasts.push(doc);
            }
        }
    }
}

/// The statements of every segment's runs, in key order (runs of one key summed), and
/// the runs themselves, located, by key.
fn merged(parts: Vec<Runs>) -> (Statements, Vec<Located>) {
    let total: usize = parts.iter().map(|r| r.keys.len()).sum();
    let mut all: Vec<(Located, u32, u64)> = Vec::with_capacity(total);
    for runs in &parts {
        for i in 0..runs.keys.len() {
            let at = Located {
                key: runs.keys[i],
                segment: runs.segment,
                first: runs.firsts[i],
                last: runs.lasts[i],
            };
            all.push((at, runs.passages[i], runs.occurrences[i]));
        }
    }
    drop(parts);
    if !all.is_sorted_by_key(|r| r.0.key) {
        sort_by_spread_key(&mut all, |r| r.0.key, |r| r.0.key);
    }
    let mut out = Statements {
        keys: Vec::with_capacity(all.len()),
        starts: Vec::with_capacity(all.len() + 1),
        occurrences: Vec::with_capacity(all.len()),
    };
    out.starts.push(0);
    for &(at, passages, occurrences) in &all {
        let end = *out.starts.last().expect("starts begins with 0") + i64::from(passages);
        if out.keys.last() == Some(&at.key) {
            *out.starts.last_mut().expect("one start a key") = end;
            *out.occurrences.last_mut().expect("one sum a key") += occurrences as i64;
        } else {
            out.keys.push(at.key);
            out.starts.push(end);
            out.occurrences.push(occurrences as i64);
        }
    }
    (out, all.into_iter().map(|r| r.0).collect())
}

/// The value of `column` for each of `docs`, into `out` (the type's default where a
/// document has none). Every document has a key and a `pnt`, so tantivy stores
/// both columns whole: read straight, without an `Option` per value (twice the memory to
/// fill and free).
fn fill_values<T>(column: &Column<T>, docs: &[DocId], out: &mut [T])
where
    T: PartialOrd + Copy + Default + std::fmt::Debug + Send + Sync + 'static,
{
    if matches!(column.index, ColumnIndex::Full) {
        column.values.get_vals(docs, out);
        return;
    }
    let mut found: Vec<Option<T>> = vec![None; docs.len()];
    column.first_vals(docs, &mut found);
    for (o, f) in out.iter_mut().zip(found) {
        *o = f.unwrap_or_default();
    }
}

/// Start positions at which the word of every phrase offset i sits at start + i.
///
/// The starts are taken from the offset whose word has the fewest positions in the
/// passage ("nations" in "the united nations", not "the"), and each other offset's
/// positions are walked once against them.
fn phrase_count(
    positions: &[Vec<u32>],
    slot: &[usize],
    starts: &mut Vec<u32>,
    kept: &mut Vec<u32>,
) -> u32 {
    let first = (0..slot.len())
        .min_by_key(|&i| positions[slot[i]].len())
        .expect("a phrase has a word");
    let at = first as u32;
    starts.clear();
    starts.extend(
        positions[slot[first]]
            .iter()
            .filter(|&&p| p >= at)
            .map(|&p| p - at),
    );
    for (offset, &word) in (0u32..).zip(slot) {
        if starts.is_empty() {
            return 0;
        }
        if offset == at {
            continue;
        }
        let others = &positions[word];
        kept.clear();
        let mut j = 0;
        for &start in starts.iter() {
            let want = start + offset;
            while j < others.len() && others[j] < want {
                j += 1;
            }
            match others.get(j) {
                None => break,
                Some(&p) if p == want => kept.push(start),
                Some(_) => {}
            }
        }
        std::mem::swap(starts, kept);
    }
    starts.len() as u32
}

/// The pair terms of token strings: each two adjacent tokens of one group of words,
/// joined by `joiner` (what `indexer.backends.pairs.pair_terms` computes, made for every
/// passage at ingest, where Python spends tens of microseconds on a long passage).
#[pyclass(frozen, module = "tifa_native")]
struct PairMaker {
    groups: writer::Groups,
    joiner: String,
}

#[pymethods]
impl PairMaker {
    #[new]
    fn new(groups: Vec<Vec<String>>, joiner: String) -> Self {
        PairMaker {
            groups: writer::pair_groups(groups),
            joiner,
        }
    }

    /// "of the human rights council" -> "of_the human_rights" (tokens separated by any
    /// whitespace; pairs of words of one group).
    fn terms(&self, tokens: &str) -> String {
        writer::pair_terms(
            &self.groups,
            &self.joiner,
            tokens.split_whitespace(),
            tokens.len(),
        )
    }
}

/// The tokens of `text` joined by spaces, and their number, where it takes the matching
/// model's ASCII path (None elsewhere): what the native writer indexes, exposed so that
/// tests can hold it to `indexer.text.joined_terms`.
#[pyfunction]
fn ascii_terms(text: &str) -> Option<(String, u32)> {
    writer::ascii_tokens(text)
}

/// The tokens of `text` joined by spaces, and their number, wherever the native writer
/// tokenises it (the ASCII path, accented Latin, Cyrillic and Chinese text; None
/// elsewhere), exposed so that tests can hold it to `indexer.text.joined_terms`.
#[pyfunction]
fn passage_terms(text: &str) -> Option<(String, u32)> {
    writer::passage_tokens(text)
}

/// `rows` in the order the matcher returns them (what `order` does), exposed so that
/// tests can hold it to a plain sort on inputs the index rarely produces.
#[pyfunction]
fn sort_rows(rows: Vec<Row>) -> Vec<Row> {
    sorted(rows)
}

/// Where each of `needles` is in `sorted` (ascending i64s; both any contiguous buffer
/// of them, as numpy arrays are): its index, or -1 where it is absent. As little-endian
/// i64 bytes.
///
/// The search layer maps a match's statement keys (ascending) to the catalog's: at ten
/// million passages "of the" is in 259k statements, and a binary search for each
/// (numpy's `searchsorted`) took 8-10 ms. Ascending needles are found by galloping on
/// from the last one found, in a few steps each; a needle below its predecessor is
/// searched for from the start.
#[pyfunction]
fn sorted_positions<'py>(
    py: Python<'py>,
    sorted: &Bound<'py, PyAny>,
    needles: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let sorted = PyBuffer::<i64>::get(sorted)?;
    let needles = PyBuffer::<i64>::get(needles)?;
    let not_contiguous = || PyValueError::new_err("sorted_positions needs contiguous i64 arrays");
    let hay = sorted.as_slice(py).ok_or_else(not_contiguous)?;
    let wanted = needles.as_slice(py).ok_or_else(not_contiguous)?;
    PyBytes::new_with(py, wanted.len() * 8, |out| {
        let mut lo = 0usize;
        let mut last = i64::MIN;
        for (cell, chunk) in wanted.iter().zip(out.chunks_exact_mut(8)) {
            let needle = cell.get();
            if needle < last {
                lo = 0;
            }
            last = needle;
            // Gallop: the first index at or past `needle` lies in lo..hi.
            let mut step = 1usize;
            let mut hi = lo;
            while hi < hay.len() && hay[hi].get() < needle {
                lo = hi + 1;
                hi += step;
                step *= 2;
            }
            let hi = hi.min(hay.len());
            lo += hay[lo..hi].partition_point(|k| k.get() < needle);
            let at = if lo < hay.len() && hay[lo].get() == needle {
                lo as i64
            } else {
                -1
            };
            chunk.copy_from_slice(&at.to_le_bytes());
        }
        Ok(())
    })
}

#[pymodule]
fn tifa_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sorted_positions, m)?)?;
    m.add_class::<PhraseIndex>()?;
    m.add_class::<Deferred>()?;
    m.add_function(wrap_pyfunction!(sort_rows, m)?)?;
    m.add_class::<PairMaker>()?;
    m.add_class::<snippets::AsciiSnippets>()?;
    m.add_class::<writer::DocWriter>()?;
    m.add_function(wrap_pyfunction!(ascii_terms, m)?)?;
    m.add_function(wrap_pyfunction!(passage_terms, m)?)?;
    Ok(())
}
