//! Snippet spans of plain phrases in passages on the matching model's ASCII path, and in
//! passages whose other characters fold one for one (accented Latin letters, Cyrillic,
//! most punctuation) or that are Chinese.
//!
//! What `indexer.search.kwic` computes with `indexer.text.phrase_offsets` and two regex
//! searches per occurrence, done in one call per passage: a cold search shows about 60
//! passages, and in Python their snippets cost as much as fetching them.
//!
//! The ASCII path (`indexer.text._ascii_view`): every character is ASCII or one of the
//! punctuation characters that map to a space one for one, so character offsets into the
//! text are byte offsets into its lower-cased "view", and tokens are the view's runs of
//! [a-z0-9]. Accented Latin and Cyrillic text searched for a phrase with a letter
//! outside ASCII takes a path of one folded character per character (`letter_view`),
//! and so does Chinese text (`cjk_view`, each Han ideograph a token). Any other
//! character, and the text takes Python's path (None here).

use pyo3::prelude::*;
use pyo3::types::PyString;

/// Characters outside ASCII that the ASCII path maps to a space (`indexer.text._PUNCT`):
/// general punctuation but U+2017 and U+203E (NFKC: a space and a combining mark).
fn is_mapped_punct(c: char) -> bool {
    matches!(c, '\u{2000}'..='\u{206f}' | '\u{a0}' | '\u{ab}' | '\u{bb}')
        && !matches!(c, '\u{2017}' | '\u{203e}')
}

// Texts off the ASCII path that the matching model still folds character for character
// (each character to one, whatever surrounds it), in the blocks UN and Kremlin English
// texts use: derived from Python's unicodedata (NFKC, casefold) and held to it by
// tests/indexer/test_fast_paths.py, one character at a time. Without them one passage in
// sixteen of a page took Python's path, at 70 µs each.

/// Letters that fold to one non-ASCII letter: a token holding one never equals a word
/// of [a-z0-9] (ß, İ, ŉ, ſ, Ǆ and their like fold to more, or to ASCII: not here).
const FOLD_SAFE_LETTERS: &[(u32, u32)] = &[
    (0xb5, 0xb5),
    (0xc0, 0xd6),
    (0xd8, 0xde),
    (0xe0, 0xf6),
    (0xf8, 0x12f),
    (0x131, 0x131),
    (0x134, 0x13e),
    (0x141, 0x148),
    (0x14a, 0x17e),
    (0x180, 0x1c3),
    (0x1cd, 0x1f0),
    (0x1f4, 0x24f),
];

/// Other characters that fold to one character that is no token's (the dot leaders,
/// double primes, ‼ and their like fold to several: not here). Past general punctuation:
/// the currency signs but ₨ (NFKC: "Rs"), the minus sign, and the box-drawing, block and
/// geometric-shape blocks (tables and bullets in UN texts; "€" alone kept one UN
/// passage in a thousand off these paths).
const FOLD_SAFE_SEPARATORS: &[(u32, u32)] = &[
    (0x80, 0xa7),
    (0xa9, 0xa9),
    (0xab, 0xae),
    (0xb0, 0xb1),
    (0xb6, 0xb7),
    (0xbb, 0xbb),
    (0xbf, 0xbf),
    (0xd7, 0xd7),
    (0xf7, 0xf7),
    (0x2000, 0x2016),
    (0x2018, 0x2024),
    (0x2027, 0x2032),
    (0x2035, 0x2035),
    (0x2038, 0x203b),
    (0x203d, 0x203d),
    (0x203f, 0x2046),
    (0x204a, 0x2056),
    (0x2058, 0x206f),
    (0x20a0, 0x20a7),
    (0x20a9, 0x20c0),
    (0x2212, 0x2212),
    (0x2500, 0x25ff),
    (0xfeff, 0xfeff),
];

fn within(table: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    table.iter().any(|&(lo, hi)| lo <= c && c <= hi)
}

/// The view byte of a letter outside ASCII: a token byte no phrase word holds.
const FOREIGN_LETTER: u8 = 0x80;

/// Python's `str.isspace` (what `\s` matches in a str pattern), for the characters a
/// text on the ASCII path can hold: Unicode White_Space plus the ASCII separators
/// U+001C..U+001F, which Python counts as space and Rust does not.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The phrases of one query, each a list of folded tokens.
#[pyclass(frozen, module = "tifa_native")]
pub(crate) struct AsciiSnippets {
    phrases: Vec<Vec<Vec<u8>>>,
    // Every phrase's words are [a-z0-9] (none was left out as never occurring): only
    // then can a text holding other letters be searched here.
    ascii_words: bool,
    // Every phrase, for the paths of one character per character (`letter_view`,
    // `cjk_view`).
    char_phrases: Vec<Vec<Vec<char>>>,
}

#[pymethods]
impl AsciiSnippets {
    #[new]
    fn new(phrases: Vec<Vec<String>>) -> Self {
        let given = phrases.len();
        let char_phrases = phrases
            .iter()
            .filter(|p| !p.is_empty() && p.iter().all(|t| !t.is_empty()))
            .map(|p| p.iter().map(|t| t.chars().collect()).collect())
            .collect();
        // A phrase with a token that is not all [a-z0-9] never occurs on the ASCII
        // path (tokens there are lower-cased runs of those).
        let phrases: Vec<Vec<Vec<u8>>> = phrases
            .into_iter()
            .filter(|p| {
                !p.is_empty()
                    && p.iter().all(|t| {
                        !t.is_empty()
                            && t.bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    })
            })
            .map(|p| p.into_iter().map(String::into_bytes).collect())
            .collect();
        AsciiSnippets {
            ascii_words: phrases.len() == given,
            phrases,
            char_phrases,
        }
    }

    /// (left edge, start, end, right edge) of the first `limit` occurrences (all when
    /// None) of any phrase in `text`, in order of (start, end), as character offsets;
    /// None when `text` is not on the ASCII path. The edges are `context` characters
    /// out from the match, moved inwards so as not to cut a word: the left one to just
    /// after the first space from it, the right one to the last space before it.
    #[pyo3(signature = (text, context, limit=None))]
    fn find(
        &self,
        text: &Bound<'_, PyString>,
        context: usize,
        limit: Option<usize>,
    ) -> Option<Vec<(usize, usize, usize, usize)>> {
        // A str that is not valid UTF-8 (a lone surrogate) takes Python's path.
        let text = text.to_str().ok()?;
        if let Some(view) = ascii_view(text, self.ascii_words) {
            let found = spans(&view, &self.phrases);
            return Some(with_edges(found, limit, |start, end| {
                (
                    left_edge(&view, start, context),
                    right_edge(&view, end, context),
                )
            }));
        }
        // Off the ASCII path, a view of one folded character per character: accented
        // Latin or Cyrillic text, else Chinese.
        let view = letter_view(text).or_else(|| cjk_view(text))?;
        let found = char_spans(&view, &self.char_phrases);
        Some(with_edges(found, limit, |start, end| {
            (
                char_left_edge(&view, start, context),
                char_right_edge(&view, end, context),
            )
        }))
    }
}

/// The first `limit` (all when None) of `found`, each as (left edge, start, end, right
/// edge) with the edges `edges` gives for (start, end).
fn with_edges(
    mut found: Vec<(usize, usize)>,
    limit: Option<usize>,
    edges: impl Fn(usize, usize) -> (usize, usize),
) -> Vec<(usize, usize, usize, usize)> {
    if let Some(limit) = limit {
        found.truncate(limit);
    }
    found
        .into_iter()
        .map(|(start, end)| {
            let (left, right) = edges(start, end);
            (left, start, end, right)
        })
        .collect()
}

// The letter path: text with letters outside ASCII that fold one for one (accented
// Latin letters, Cyrillic) searched for a phrase with such a letter ("Hammarskjöld",
// "Côte d'Ivoire", "Россия"), which the ASCII path's view cannot compare. Each character
// becomes its fold (Python's `indexer.text.fold`, held to it one character at a time by
// tests/indexer/test_fast_paths.py), each separator a blank (a space in Python) or a
// hyphen (not one).

/// Cyrillic's basic letters and the Ukrainian, Belarusian, Serbian and Macedonian ones
/// beside them: each folds to its lower case (ё to е).
const CYRILLIC: (char, char) = ('\u{400}', '\u{45f}');

/// The fold of a letter of `FOLD_SAFE_LETTERS` or `CYRILLIC`: its lower case (Python
/// case-folds µ to the Greek μ, and the matching model folds ё to е); None where that is
/// not one character.
fn fold_letter(c: char) -> Option<char> {
    match c {
        '\u{b5}' => Some('\u{3bc}'),
        '\u{401}' | '\u{451}' => Some('\u{435}'),
        _ => {
            let mut lower = c.to_lowercase();
            let one = lower.next()?;
            lower.next().is_none().then_some(one)
        }
    }
}

/// `text` folded, one character for each of its characters, where each is ASCII, a
/// letter of `FOLD_SAFE_LETTERS` or `CYRILLIC` or a separator of `FOLD_SAFE_SEPARATORS`;
/// else None. Separators become a blank or a hyphen, so that the characters outside
/// ASCII a view holds are letters.
fn letter_view(text: &str) -> Option<Vec<char>> {
    text.chars()
        .map(|c| {
            if c.is_ascii() {
                Some(if is_space(c) {
                    ' '
                } else {
                    c.to_ascii_lowercase()
                })
            } else if within(FOLD_SAFE_SEPARATORS, c) {
                Some(if is_space(c) { ' ' } else { '-' })
            } else if within(FOLD_SAFE_LETTERS, c) || (CYRILLIC.0..=CYRILLIC.1).contains(&c) {
                fold_letter(c)
            } else {
                None
            }
        })
        .collect()
}

// The CJK path: Chinese text (Han ideographs, CJK and full-width punctuation, full-width
// ASCII), which `indexer.text._fold_with_map` folds one for one without the character
// table (`_CJK_FOLDS_ONE_FOR_ONE`). Each Han ideograph is a token alone; other tokens are
// runs of [a-z0-9] once folded. tests/indexer/test_fast_paths.py holds the characters
// taken here to Python's class and their folds to `fold`, one at a time.

/// The Han ideographs of the CJK path: the two unified blocks, every character of which
/// is assigned, of script Han, and its own fold.
fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}')
}

/// The fold of a character of the CJK path, one character; None off it.
fn cjk_fold(c: char) -> Option<char> {
    match c {
        '\t'..='\r' | ' '..='~' => Some(c.to_ascii_lowercase()),
        // The ideographic space is a space; full-width ASCII is ASCII.
        '\u{3000}' => Some(' '),
        '\u{ff01}'..='\u{ff5e}' => {
            char::from_u32(c as u32 - 0xfee0).map(|a| a.to_ascii_lowercase())
        }
        '\u{b7}'
        | '\u{2010}'
        | '\u{2012}'..='\u{2016}'
        | '\u{2018}'..='\u{2023}'
        | '\u{2027}'
        | '\u{3001}'..='\u{3003}'
        | '\u{3008}'..='\u{3011}'
        | '\u{3014}'..='\u{301f}' => Some(c),
        c if is_han(c) => Some(c),
        _ => None,
    }
}

/// `text` folded, one character for each of its characters (so that indices are
/// character offsets), where every character is on the CJK path; else None.
fn cjk_view(text: &str) -> Option<Vec<char>> {
    text.chars().map(cjk_fold).collect()
}

/// Whether a character of a view (`letter_view`, `cjk_view`) is part of a word that is
/// not a Han ideograph: [a-z0-9] and the folded letters outside ASCII (the other
/// characters outside ASCII a view holds are punctuation).
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || (!c.is_ascii() && !is_han(c) && c.is_alphabetic())
}

/// [start, end) of every occurrence of each phrase in a view of one folded character per
/// character (`letter_view`, `cjk_view`), sorted, each once.
fn char_spans(view: &[char], phrases: &[Vec<Vec<char>>]) -> Vec<(usize, usize)> {
    let tokens = view_tokens(view);
    phrase_spans(&tokens, phrases, |(a, b), word: &Vec<char>| {
        view[a..b] == word[..]
    })
}

/// [start, end) of each token of a view: a Han ideograph alone, else a run of
/// `is_word_char`.
fn view_tokens(view: &[char]) -> Vec<(usize, usize)> {
    let mut tokens: Vec<(usize, usize)> = Vec::with_capacity(view.len() / 2);
    let mut i = 0;
    let n = view.len();
    while i < n {
        if is_han(view[i]) {
            tokens.push((i, i + 1));
            i += 1;
        } else if is_word_char(view[i]) {
            let start = i;
            while i < n && is_word_char(view[i]) {
                i += 1;
            }
            tokens.push((start, i));
        } else {
            i += 1;
        }
    }
    tokens
}

/// The tokens of `text` joined by single spaces, and their number, where the text takes
/// the letter path or the CJK path (None elsewhere): what the native writer indexes for
/// a passage off the ASCII path (`indexer.text.joined_terms`, without Python's fold and
/// regex: two thirds of a Chinese corpus's ingest in Python).
pub(crate) fn view_terms(text: &str) -> Option<(String, u32)> {
    let view = letter_view(text).or_else(|| cjk_view(text))?;
    let tokens = view_tokens(&view);
    let mut out = String::with_capacity(text.len());
    for (n, &(start, end)) in tokens.iter().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        out.extend(&view[start..end]);
    }
    Some((out, u32::try_from(tokens.len()).unwrap_or(u32::MAX)))
}

/// Python's `str.isspace` for a character of a view (where every other space is a
/// blank already): \t \n \x0b \x0c \r and the blank.
fn char_space(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\u{b}'
}

/// Whether an edge may fall between `p - 1` and `p` of a view without cutting a
/// word: beside a Han ideograph (each is a word; Chinese puts no space between words).
fn beside_han(view: &[char], p: usize) -> bool {
    is_han(view[p - 1]) || is_han(view[p])
}

/// The left edge `context` characters before `start`, moved right to just after a space
/// or beside a Han ideograph (at most to `start`).
fn char_left_edge(view: &[char], start: usize, context: usize) -> usize {
    let mut edge = start.saturating_sub(context);
    if edge == 0 {
        return 0;
    }
    while edge < start && !(char_space(view[edge - 1]) || beside_han(view, edge)) {
        edge += 1;
    }
    edge
}

/// The right edge `context` characters after `end`, moved left onto a space or beside a
/// Han ideograph (at most to `end`).
fn char_right_edge(view: &[char], end: usize, context: usize) -> usize {
    let len = view.len();
    let mut edge = (end + context).min(len);
    while edge < len && edge > end && !(char_space(view[edge]) || beside_han(view, edge)) {
        edge -= 1;
    }
    edge
}

/// Byte classes of a view: a token byte ([A-Za-z0-9], FOREIGN_LETTER), a space (what Python's
/// `str.isspace` holds a space: \t \n \x0b \x0c \r \x1c-\x1f and the blank).
const TOKEN: u8 = 1;
const SPACE: u8 = 2;
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == FOREIGN_LETTER {
            table[b] = TOKEN;
        } else if matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f | b' ') {
            table[b] = SPACE;
        }
        b += 1;
    }
    table
};

/// `text` as one byte per character (so that byte offsets are character offsets),
/// borrowed when it is ASCII already. Punctuation outside ASCII becomes a space where
/// Python counts it as one, else a hyphen (neither a token nor a space); a letter
/// outside ASCII becomes FOREIGN_LETTER. None where Python's answer could differ:
/// - a character in neither table, nor the ASCII path's punctuation;
/// - a text with such letters or separators (so that Python folds it, not maps it)
///   holding punctuation the ASCII path maps but folding does not keep one for one,
///   or searched for a phrase with other words than [a-z0-9] (`ascii_words` false).
///
/// Case is left alone: tokens are compared without it.
fn ascii_view(text: &str, ascii_words: bool) -> Option<std::borrow::Cow<'_, [u8]>> {
    if text.is_ascii() {
        return Some(std::borrow::Cow::Borrowed(text.as_bytes()));
    }
    let mut view = Vec::with_capacity(text.len());
    let (mut folded, mut unfoldable) = (false, false);
    for c in text.chars() {
        if c.is_ascii() {
            view.push(c as u8);
            continue;
        }
        let mapped = is_mapped_punct(c);
        if mapped || within(FOLD_SAFE_SEPARATORS, c) {
            if mapped {
                unfoldable |= !within(FOLD_SAFE_SEPARATORS, c);
            } else {
                folded = true;
            }
            view.push(if is_space(c) { b' ' } else { b'-' });
        } else if within(FOLD_SAFE_LETTERS, c) {
            folded = true;
            view.push(FOREIGN_LETTER);
        } else {
            return None;
        }
    }
    if folded && (unfoldable || !ascii_words) {
        return None;
    }
    Some(std::borrow::Cow::Owned(view))
}

/// [start, end) of every occurrence of each phrase in `view`, sorted, each once: a
/// phrase occurs where its tokens are consecutive runs of [a-z0-9] (compared without
/// case), at every token it can start from (overlapping occurrences included).
fn spans(view: &[u8], phrases: &[Vec<Vec<u8>>]) -> Vec<(usize, usize)> {
    let mut tokens: Vec<(usize, usize)> = Vec::with_capacity(view.len() / 4);
    let mut i = 0;
    let n = view.len();
    while i < n {
        if CLASS[view[i] as usize] & TOKEN != 0 {
            let start = i;
            i += 1;
            while i < n && CLASS[view[i] as usize] & TOKEN != 0 {
                i += 1;
            }
            tokens.push((start, i));
        }
        i += 1;
    }
    phrase_spans(&tokens, phrases, |(a, b), word: &Vec<u8>| {
        view[a..b].eq_ignore_ascii_case(word)
    })
}

/// [start, end) of every occurrence of each phrase among `tokens` (each [start, end) of
/// a view; `equal` compares one with a phrase's word), sorted, each once: a phrase
/// occurs where its words are consecutive tokens, at every token it can start from
/// (overlapping occurrences included).
fn phrase_spans<W>(
    tokens: &[(usize, usize)],
    phrases: &[Vec<W>],
    equal: impl Fn((usize, usize), &W) -> bool,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (t, &(start, _)) in tokens.iter().enumerate() {
        for phrase in phrases {
            let n = phrase.len();
            if t + n > tokens.len() {
                continue;
            }
            if tokens[t..t + n]
                .iter()
                .zip(phrase)
                .all(|(&span, word)| equal(span, word))
            {
                out.push((start, tokens[t + n - 1].1));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn is_space_byte(b: &u8) -> bool {
    CLASS[*b as usize] & SPACE != 0
}

fn left_edge(view: &[u8], start: usize, context: usize) -> usize {
    let edge = start.saturating_sub(context);
    if edge == 0 {
        return 0;
    }
    // The first space in [edge - 1, start): the edge moves to just after it.
    match view[edge - 1..start].iter().position(is_space_byte) {
        Some(at) => edge - 1 + at + 1,
        None => start,
    }
}

fn right_edge(view: &[u8], end: usize, context: usize) -> usize {
    let len = view.len();
    let edge = (end + context).min(len);
    if edge >= len {
        return len;
    }
    // The last space in [end, edge + 1): the edge moves onto it.
    match view[end..=edge].iter().rposition(is_space_byte) {
        Some(at) => end + at,
        None => end,
    }
}
