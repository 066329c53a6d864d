//! Tifa's native document writer: the embedded index's passage and statement documents
//! made and indexed in Rust.
//!
//! Through the tantivy Python package every passage went through Python as a JSON
//! document (tokens joined, pairs made, text in base64) that tantivy then parsed again:
//! about half of ingest's CPU. Here Python hands over each statement's passages once,
//! as plain strings, and the documents are built, tokenised (on the matching model's
//! ASCII path, and in accented Latin, Cyrillic and Chinese text that folds one character
//! for one: `passage_tokens`) and indexed without holding the GIL. The documents are field for field
//! those `EmbeddedBackend._documents` writes; the tests hold both writers to the same
//! answers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use rustc_hash::FxBuildHasher;
use tantivy::index::SegmentMeta;
use tantivy::indexer::{
    IndexWriterOptions, LogMergePolicy, MergeCandidate, MergePolicy, UserOperation,
};
use tantivy::schema::{Field, Schema};
use tantivy::{Index, IndexWriter, TantivyDocument, Term};

use crate::engine_error;

/// The tokens of `text` joined by single spaces, and their number, where the text takes
/// the matching model's ASCII path: every non-ASCII character is general punctuation
/// (U+2000..U+206F but U+2017 and U+203E, which NFKC makes a space and a combining
/// mark), a no-break space or a guillemet, so tokens are the runs of ASCII
/// letters and digits, lower-cased (`indexer.text.joined_terms`). None elsewhere: the
/// caller tokenises those passages itself.
pub(crate) fn ascii_tokens(text: &str) -> Option<(String, u32)> {
    // On the UTF-8 bytes: the separators outside ASCII are C2 A0, C2 AB, C2 BB and
    // E2 80 xx / E2 81 80..AF (U+2000..U+206F) but E2 80 97 and E2 80 BE (U+2017 and
    // U+203E); any other non-ASCII byte is off the path.
    let bytes = text.as_bytes();
    // Tokens and the single spaces between them are never longer than the text.
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut count = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() {
            // A whole run at once: copied and lower-cased in one pass the compiler
            // vectorises, rather than pushed byte by byte.
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            if count > 0 {
                out.push(b' ');
            }
            count += 1;
            out.extend(bytes[start..i].iter().map(u8::to_ascii_lowercase));
            continue;
        }
        i += match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (0..=0x7f, _, _) => 1,
            (0xc2, Some(0xa0 | 0xab | 0xbb), _) => 2,
            (0xe2, Some(0x80), Some(0x97 | 0xbe)) => return None,
            (0xe2, Some(0x80), Some(_)) => 3,
            (0xe2, Some(0x81), Some(0x80..=0xaf)) => 3,
            _ => return None,
        };
    }
    // Only ASCII letters, digits and spaces were written.
    Some((String::from_utf8(out).expect("ASCII"), count))
}

/// The tokens of a passage the writer tokenises itself, joined by single spaces, and
/// their number: on the ASCII path, or on the letter or CJK path of one folded character
/// per character (accented Latin, Cyrillic, Chinese: `snippets::view_terms`); None
/// elsewhere, and the caller tokenises it.
pub(crate) fn passage_tokens(text: &str) -> Option<(String, u32)> {
    ascii_tokens(text).or_else(|| crate::snippets::view_terms(text))
}

/// The group of each word that makes pairs (see `pair_terms`): a lookup per token of
/// every passage at ingest.
///
/// A word of up to 16 bytes is keyed by its bytes packed into a `u128`, zero-padded
/// (tokens never hold a NUL, so no two such words share a key); every frequent word is
/// that short. One integer is hashed (FxHash) and compared instead of a string: under
/// perf over a UN ingest, the lookups fell from 3.3% to 2.4% of the process's samples
/// (from about a quarter of `add_passages`). Longer words (or any holding a NUL) are
/// kept by their strings.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    short: HashMap<u128, u16, FxBuildHasher>,
    long: HashMap<String, u16, FxBuildHasher>,
}

impl Groups {
    fn key(word: &str) -> Option<u128> {
        let bytes = word.as_bytes();
        if bytes.len() > 16 || bytes.contains(&0) {
            return None;
        }
        let mut packed = [0u8; 16];
        packed[..bytes.len()].copy_from_slice(bytes);
        Some(u128::from_le_bytes(packed))
    }

    /// The group of `word`, if it is in one.
    pub(crate) fn of(&self, word: &str) -> Option<u16> {
        match Self::key(word) {
            Some(k) => self.short.get(&k).copied(),
            None if self.long.is_empty() => None,
            None => self.long.get(word).copied(),
        }
    }
}

/// The group of each word that makes pairs, from the groups' lists.
pub(crate) fn pair_groups(groups: Vec<Vec<String>>) -> Groups {
    let mut of = Groups::default();
    for (g, words) in (0u16..).zip(groups) {
        for word in words {
            match Groups::key(&word) {
                Some(k) => of.short.insert(k, g),
                None => of.long.insert(word, g),
            };
        }
    }
    of
}

/// "of the human rights council" -> "of_the human_rights": each two adjacent tokens of
/// one group (`groups` maps a word to its group; a word in none makes no pair).
/// `capacity` is what the caller expects the pairs to take (no more than the tokens).
pub(crate) fn pair_terms<'a>(
    groups: &Groups,
    joiner: &str,
    tokens: impl Iterator<Item = &'a str>,
    capacity: usize,
) -> String {
    let mut out = String::with_capacity(capacity);
    let mut previous: Option<(&str, u16)> = None;
    for token in tokens {
        let group = groups.of(token);
        if let (Some((before, g)), Some(h)) = (previous, group) {
            if g == h {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(before);
                out.push_str(joiner);
                out.push_str(token);
            }
        }
        previous = group.map(|g| (token, g));
    }
    out
}

/// What a document's values take besides its strings: the numbers, the short
/// constant texts and each value's length prefix.
const DOC_OVERHEAD: usize = 128;

/// tantivy's least memory budget for one indexing thread (not exported by tantivy).
const THREAD_BUDGET_MIN: usize = 15_000_000;

/// No merge makes a segment of more than this many documents.
///
/// tantivy's default policy merges on until one segment holds nearly everything: the 10M
/// passage index ended as one segment of 10.2M documents. That last merge mapped about
/// 10 GB of segments into the writer's memory (its peak RSS is the pages it has read), and
/// a query then matched that one segment on one core. Capped, a merge reads at most about
/// this many documents' worth of files (about 400 MB at the corpora's 1 KB a passage),
/// and a large index keeps segments enough to match on every core. Smaller corpora never
/// reach the cap (the UN corpus's largest segment holds 182k documents).
const MOST_MERGED_DOCS: u64 = 400_000;

/// tantivy's log-structured merging (segments of about one size merged eight at a time),
/// with no merge larger than `most` documents: a level is merged in groups of at most
/// `most`, and segments of more than half of it are final.
#[derive(Debug)]
struct CappedMerges {
    levels: LogMergePolicy,
    most: u64,
}

impl CappedMerges {
    fn new(most: u64) -> Self {
        let mut levels = LogMergePolicy::default();
        levels.set_max_docs_before_merge(usize::try_from(most / 2).unwrap_or(usize::MAX));
        CappedMerges { levels, most }
    }
}

impl MergePolicy for CappedMerges {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        let docs = |id| {
            segments
                .iter()
                .find(|s| s.id() == id)
                .map_or(0, |s| u64::from(s.num_docs()))
        };
        let mut out = Vec::new();
        for level in self.levels.compute_merge_candidates(segments) {
            let mut group = Vec::new();
            let mut size = 0u64;
            for id in level.0 {
                let n = docs(id);
                if !group.is_empty() && size + n > self.most {
                    if group.len() > 1 {
                        out.push(MergeCandidate(std::mem::take(&mut group)));
                    }
                    group.clear();
                    size = 0;
                }
                group.push(id);
                size += n;
            }
            if group.len() > 1 {
                out.push(MergeCandidate(group));
            }
        }
        out
    }
}

struct Fields {
    doc_type: Field,
    sid: Field,
    key: Field,
    pno: Field,
    uid: Field,
    pnt: Field,
    text: Field,
    tokens: Field,
    lemmas: Field,
    pairs: Field,
    stmt_pair_passages: Field,
    stmt_pair_more: Field,
    lemmatised: Field,
    addressee: Field,
    date: Field,
    published: Field,
    hash: Field,
    meta: Field,
    record: Field,
}

impl Fields {
    fn of(schema: &Schema) -> tantivy::Result<Fields> {
        let f = |name: &str| schema.get_field(name);
        Ok(Fields {
            doc_type: f("doc_type")?,
            sid: f("sid")?,
            key: f("key")?,
            pno: f("pno")?,
            uid: f("uid")?,
            pnt: f("pnt")?,
            text: f("text")?,
            tokens: f("tokens")?,
            lemmas: f("lemmas")?,
            pairs: f("pairs")?,
            stmt_pair_passages: f("stmt_pair_passages")?,
            stmt_pair_more: f("stmt_pair_more")?,
            lemmatised: f("lemmatised")?,
            addressee: f("addressee")?,
            date: f("date")?,
            published: f("published")?,
            hash: f("hash")?,
            meta: f("meta")?,
            record: f("record")?,
        })
    }
}

/// One passage as Python hands it over: number, passage key, original text, folded
/// tokens (None: tokenise here), lemmas (only where they differ from the tokens),
/// folded addressee tokens.
type PassageIn = (
    u32,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The documents made for the statement being added (see `add_statement`).
#[derive(Default)]
struct Pending {
    docs: Vec<TantivyDocument>,
    /// Each passage's distinct pairs, and their further occurrences in it (the statement
    /// document's `stmt_pair_passages` and `stmt_pair_more`).
    passage_pairs: String,
    more_pairs: String,
}

/// The one writer of an embedded index (tantivy's directory lock, as the Python
/// package's writer takes it).
#[pyclass(frozen, module = "tifa_native")]
pub(crate) struct DocWriter {
    writer: Mutex<Option<IndexWriter>>,
    /// The passage documents of the statement being added, sent with its statement
    /// document as one batch (see `add_statement`).
    pending: Mutex<Pending>,
    fields: Fields,
    schema: Schema,
    groups: Groups,
    joiner: String,
}

impl DocWriter {
    fn with<T>(&self, act: impl FnOnce(&mut IndexWriter) -> tantivy::Result<T>) -> PyResult<T> {
        let mut guard = self.writer.lock().expect("the writer's lock is poisoned");
        let writer = guard
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("the writer is closed"))?;
        act(writer).map_err(engine_error)
    }
}

#[pymethods]
impl DocWriter {
    /// Open the writer of the index at `path` (`threads` 0: tantivy chooses), making
    /// pair terms of adjacent words of one of `groups`, joined by `joiner`; no merge
    /// makes a segment of more than `most_merged` documents (None: `MOST_MERGED_DOCS`).
    #[new]
    #[pyo3(signature = (path, heap_bytes, threads, groups, joiner, most_merged=None))]
    fn new(
        path: PathBuf,
        heap_bytes: usize,
        threads: usize,
        groups: Vec<Vec<String>>,
        joiner: String,
        most_merged: Option<u64>,
    ) -> PyResult<Self> {
        let index = Index::open_in_dir(&path)
            .map_err(|e| PyOSError::new_err(format!("cannot open {}: {e}", path.display())))?;
        // As `Index::writer` chooses when `threads` is 0: one per core, at most 8, and
        // fewer when a share of the memory budget would be under tantivy's minimum.
        let threads = if threads == 0 {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
            cores.min((heap_bytes / THREAD_BUDGET_MIN).max(1))
        } else {
            threads
        };
        let options = IndexWriterOptions::builder()
            .num_worker_threads(threads)
            .memory_budget_per_thread(heap_bytes / threads)
            // One merge at a time: each maps its segments into this process's memory.
            .num_merge_threads(1)
            .build();
        let writer = index.writer_with_options(options).map_err(engine_error)?;
        writer.set_merge_policy(Box::new(CappedMerges::new(
            most_merged.unwrap_or(MOST_MERGED_DOCS),
        )));
        let schema = index.schema();
        Ok(DocWriter {
            writer: Mutex::new(Some(writer)),
            pending: Mutex::new(Pending::default()),
            fields: Fields::of(&schema).map_err(engine_error)?,
            schema,
            groups: pair_groups(groups),
            joiner,
        })
    }

    /// Delete every document of statement `sid` (as of the next commit).
    fn delete_statement(&self, sid: &str) -> PyResult<()> {
        let term = Term::from_field_text(self.fields.sid, sid);
        self.with(|w| {
            w.delete_term(term);
            Ok(())
        })
    }

    /// Make the passage documents of one statement, to be indexed with its statement
    /// document by `add_statement` (they replace any left by a statement that never got
    /// there). Returns (made, total tokens, the indexes of passages without tokens
    /// whose text `passage_tokens` does not take): when there is any, nothing is made
    /// and the caller sends the statement again with those passages tokenised.
    #[allow(clippy::too_many_arguments)]
    fn add_passages(
        &self,
        py: Python<'_>,
        sid: &str,
        key: i64,
        filters: Vec<(String, String)>,
        date: i64,
        published: i64,
        passages: Vec<PassageIn>,
    ) -> PyResult<(bool, u64, Vec<usize>)> {
        let f = &self.fields;
        let mut filter_fields = Vec::with_capacity(filters.len());
        for (name, value) in &filters {
            let field = self.schema.get_field(name).map_err(engine_error)?;
            filter_fields.push((field, value.as_str()));
        }
        py.allow_threads(|| {
            // Tokens first, for every passage: nothing is added unless all have them.
            // With whether they are the writer's own, joined by single spaces.
            let mut tokens: Vec<(String, u32, bool)> = Vec::with_capacity(passages.len());
            let mut off_path = Vec::new();
            for (i, p) in passages.iter().enumerate() {
                match &p.3 {
                    Some(given) => {
                        let n = given.split_whitespace().count() as u32;
                        tokens.push((given.clone(), n, false));
                    }
                    None => match passage_tokens(&p.2) {
                        Some((found, n)) => tokens.push((found, n, true)),
                        None => {
                            off_path.push(i);
                            tokens.push((String::new(), 0, false));
                        }
                    },
                }
            }
            if !off_path.is_empty() {
                return Ok((false, 0, off_path));
            }
            let filters_len: usize = filter_fields.iter().map(|(_, v)| v.len()).sum();
            let mut total = 0u64;
            let mut docs = Vec::with_capacity(passages.len());
            let (mut passage_pairs, mut more_pairs) = (String::new(), String::new());
            for (p, (toks, ntok, spaced)) in passages.iter().zip(&tokens) {
                let (pno, uid, text, _, lemmas, addressee) = p;
                total += u64::from(*ntok);
                // Splitting on one byte, not on any Unicode whitespace, where the
                // tokens are known to be joined by single spaces.
                let pairs = if *ntok < 2 {
                    String::new()
                } else if *spaced {
                    pair_terms(&self.groups, &self.joiner, toks.split(' '), toks.len())
                } else {
                    pair_terms(
                        &self.groups,
                        &self.joiner,
                        toks.split_whitespace(),
                        toks.len(),
                    )
                };
                // The document's values sized up front: grown from empty, its buffer
                // was reallocated (and copied) several times a passage, a third of
                // this method's time.
                let mut doc = TantivyDocument::with_capacity(
                    DOC_OVERHEAD
                        + sid.len()
                        + filters_len
                        + text.len()
                        + toks.len()
                        + pairs.len()
                        + lemmas.as_ref().map_or(0, String::len)
                        + addressee.as_ref().map_or(0, String::len),
                );
                doc.add_text(f.doc_type, "passage");
                doc.add_text(f.sid, sid);
                doc.add_i64(f.key, key);
                for (field, value) in &filter_fields {
                    if !value.is_empty() {
                        doc.add_text(*field, value);
                    }
                }
                doc.add_i64(f.date, date);
                doc.add_i64(f.published, published);
                doc.add_i64(f.pno, i64::from(*pno));
                doc.add_i64(f.uid, *uid);
                doc.add_u64(f.pnt, u64::from(*pno) << 32 | u64::from(*ntok));
                doc.add_bytes(f.text, text.as_bytes());
                if !toks.is_empty() {
                    doc.add_text(f.tokens, toks);
                    if !pairs.is_empty() {
                        doc.add_text(f.pairs, &pairs);
                        let mut found: Vec<&str> = pairs.split(' ').collect();
                        found.sort_unstable();
                        for (i, pair) in found.iter().enumerate() {
                            let to = if i > 0 && found[i - 1] == *pair {
                                &mut more_pairs
                            } else {
                                &mut passage_pairs
                            };
                            to.push_str(pair);
                            to.push(' ');
                        }
                    }
                }
                if let Some(lemmas) = lemmas {
                    doc.add_text(f.lemmas, lemmas);
                    doc.add_text(f.lemmatised, "y");
                }
                if let Some(addressee) = addressee.as_deref().filter(|a| !a.is_empty()) {
                    doc.add_text(f.addressee, addressee);
                }
                docs.push(doc);
            }
            *self.pending.lock().expect("the pending lock is poisoned") = Pending {
                docs,
                passage_pairs,
                more_pairs,
            };
            Ok((true, total, Vec::new()))
        })
    }

    /// Add a statement's own document (its content hash, metadata and whole record)
    /// with the passage documents `add_passages` made, as one batch: tantivy puts a
    /// batch in one segment, in order, so a statement's passages sit together (the
    /// matcher's rows then come sorted within each statement, and a page's texts are
    /// read from a few neighbouring doc-store blocks).
    fn add_statement(
        &self,
        py: Python<'_>,
        sid: &str,
        key: i64,
        hash: &str,
        meta: &[u8],
        record: &[u8],
    ) -> PyResult<()> {
        let f = &self.fields;
        let pending =
            std::mem::take(&mut *self.pending.lock().expect("the pending lock is poisoned"));
        let mut doc = TantivyDocument::with_capacity(
            DOC_OVERHEAD
                + sid.len()
                + hash.len()
                + meta.len()
                + record.len()
                + pending.passage_pairs.len()
                + pending.more_pairs.len(),
        );
        doc.add_text(f.doc_type, "statement");
        doc.add_text(f.sid, sid);
        doc.add_i64(f.key, key);
        // Every document has a `pnt` (see `EmbeddedBackend._documents`); a statement's is
        // its number of passages, whose documents come just before it in this batch.
        doc.add_u64(f.pnt, pending.docs.len() as u64);
        doc.add_text(f.hash, hash);
        doc.add_bytes(f.meta, meta);
        doc.add_bytes(f.record, record);
        if !pending.passage_pairs.is_empty() {
            doc.add_text(f.stmt_pair_passages, &pending.passage_pairs);
        }
        if !pending.more_pairs.is_empty() {
            doc.add_text(f.stmt_pair_more, &pending.more_pairs);
        }
        let mut batch = pending.docs;
        batch.push(doc);
        py.allow_threads(|| {
            self.with(|w| {
                w.run(batch.into_iter().map(UserOperation::Add))?;
                Ok(())
            })
        })
    }

    /// Make everything added and deleted since the last commit durable and visible.
    /// Passages made for a statement never added are not part of it.
    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        *self.pending.lock().expect("the pending lock is poisoned") = Pending::default();
        py.allow_threads(|| self.with(|w| w.commit().map(|_| ())))
    }

    /// Drop everything added and deleted since the last commit.
    fn rollback(&self, py: Python<'_>) -> PyResult<()> {
        *self.pending.lock().expect("the pending lock is poisoned") = Pending::default();
        py.allow_threads(|| self.with(|w| w.rollback().map(|_| ())))
    }

    /// Wait for merges to finish and release the index's writer lock.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self
            .writer
            .lock()
            .expect("the writer's lock is poisoned")
            .take();
        match taken {
            Some(writer) => py
                .allow_threads(|| writer.wait_merging_threads())
                .map_err(engine_error),
            None => Ok(()),
        }
    }
}
