//! The link pass: html5gum's WHATWG tokenizer with an emitter that keeps only what a crawl
//! needs (the hrefs of `<a>`, `<area>`, the srcs of `<frame>`, `<iframe>`, the first
//! `<base href>`, the first `<title>`'s text), fed a page's text as it arrives.
//!
//! **Why html5gum and this emitter.** Tokenizing was half of a page's CPU with html5ever's
//! tokenizer, which builds a token (tag name atoms, attribute tendrils) for everything. html5gum
//! hands each piece of a token to the emitter as the state machine reads it, so text, comments,
//! doctypes and the attributes of tags we do not care about cost one branch each here and are
//! never copied; an attribute value is copied once, into one arena per page, only when it is a
//! link. The link checker lychee extracts links the same way.
//!
//! **Streaming without a tree builder or a suspendable tokenizer.** html5gum pulls its input
//! from a reader and cannot wait for more in the middle of a token. So the text is kept in a
//! buffer and tokenized in runs: a run that is not the last treats the buffer's end as the end
//! of input, and everything it found after the last *resume point* is rolled back. A resume
//! point is where a tag that leaves the tokenizer in the data state has just ended (its `>` read
//! before the end of the buffer): there a fresh tokenizer in the data state is exactly the
//! tokenizer that ran on, so the next run starts there, and the text before it is dropped.
//! Typical HTML has such a point every few bytes, so the buffer stays near one piece; a page
//! that has none for long (a megabyte of script) is re-tokenized from its last one only when
//! the buffer has doubled, which keeps the total work linear.
//!
//! **What a tokenizer alone approximates** (a tree builder decides these; see the differential
//! test in `tests.rs` for each one measured against html5ever with scripting off):
//! - which elements switch the tokenizer into raw text: by tag name, as a browser with
//!   scripting off does in HTML content (`<noscript>` is markup);
//! - foreign content: inside `<svg>` and `<math>` tag names switch nothing and `<![CDATA[`
//!   opens a CDATA section; a start tag that breaks out of foreign content (`<p>`, `<div>`, ...)
//!   ends it. Integration points (`<foreignObject>`, `<annotation-xml>`) are not tracked;
//! - tags a tree builder would drop (`<a>` inside `<frameset>`, a second `<base>` is not one)
//!   are still read: a link in them is found.

use std::borrow::Cow;
use std::cell::Cell;
use std::convert::Infallible;
use std::ops::Range;

use html5gum::{Emitter, Error, Readable, Reader, State, StringReader, Tokenizer};

/// What the pass found: the raw hrefs (into one arena), the first base and title.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Every collected href and base, back to back. Bytes, not text: the tokenizer may hand
    /// a character over in pieces (a multibyte one after a `&` that starts no reference),
    /// so a value is made text once it is whole.
    arena: Vec<u8>,
    hrefs: Vec<Range<usize>>,
    base: Option<Range<usize>>,
    /// The first title's text as read so far (`Some` from its start tag on).
    title: Option<Vec<u8>>,
    /// Where the tokenizer is, as far as the pass cares.
    between: Between,
    /// How far everything was at the last resume point.
    mark: Mark,
}

/// Bytes the tokenizer handed over as text: almost always valid UTF-8 already (checked on the
/// fast path), else with the bytes of a cut character replaced.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The pass's own state between tags.
#[derive(Debug, Default, Clone, Copy)]
struct Between {
    /// Whether text goes to the title.
    in_title: bool,
    /// Open `<svg>` and `<math>` elements.
    foreign: u32,
}

/// How long [`Found`]'s lists were at a resume point, and the state there.
#[derive(Debug, Default, Clone, Copy)]
struct Mark {
    arena: usize,
    hrefs: usize,
    has_base: bool,
    /// `None`: no title yet.
    title: Option<usize>,
    between: Between,
}

impl Found {
    /// The hrefs in document order.
    pub(super) fn hrefs(&self) -> impl ExactSizeIterator<Item = Cow<'_, str>> {
        self.hrefs.iter().map(|r| text(&self.arena[r.clone()]))
    }

    pub(super) fn base(&self) -> Option<Cow<'_, str>> {
        self.base.clone().map(|r| text(&self.arena[r]))
    }

    /// The title's text, of which the first [`super::MAX_TITLE_BYTES`] are whole (a character
    /// cut after them is replaced).
    pub(super) fn title(&self) -> Option<Cow<'_, str>> {
        self.title.as_deref().map(text)
    }

    /// The form the differential test compares.
    #[cfg(test)]
    pub(super) fn raw(&self) -> super::reference::Raw {
        super::reference::Raw {
            title: self.title().and_then(|t| super::tidy_title(&t)),
            base: self.base().map(Cow::into_owned),
            hrefs: self.hrefs().map(Cow::into_owned).collect(),
        }
    }

    /// Forgets what was found after the last resume point.
    fn roll_back(&mut self) {
        let mark = self.mark;
        self.arena.truncate(mark.arena);
        self.hrefs.truncate(mark.hrefs);
        if !mark.has_base {
            self.base = None;
        }
        match (mark.title, &mut self.title) {
            (None, title) => *title = None,
            (Some(len), Some(title)) => title.truncate(len),
            (Some(_), None) => {}
        }
        self.between = mark.between;
    }

    /// Records a resume point.
    fn set_mark(&mut self) {
        self.mark = Mark {
            arena: self.arena.len(),
            hrefs: self.hrefs.len(),
            has_base: self.base.is_some(),
            title: self.title.as_ref().map(Vec::len),
            between: self.between,
        };
    }
}

/// The most bytes of title text kept while reading: [`super::MAX_TITLE_BYTES`] and room to
/// finish a character cut there (the title is cut on a character boundary at the end).
const TITLE_ROOM: usize = super::MAX_TITLE_BYTES + 4;

/// One page's pass: its text comes in pieces and is tokenized in runs (see the module docs).
#[derive(Debug)]
pub(super) struct Pass {
    /// A run that is not the last waits for at least this much text.
    run_every: usize,
    /// Text from the last resume point on.
    text: String,
    /// How long `text` was after the last run: the next run waits until it has doubled.
    tail: usize,
    /// Whether any text has come yet (a byte order mark is dropped only at the very start).
    started: bool,
    found: Found,
}

/// How much text a run that is not the last waits for: a few pieces' worth of tags between
/// runs, little text held.
const RUN_EVERY: usize = 16 * 1024;

impl Default for Pass {
    fn default() -> Self {
        Pass::with_run_every(RUN_EVERY)
    }
}

impl Pass {
    /// A pass that runs the tokenizer every `run_every` bytes of text (tests use small ones,
    /// to resume at every possible point).
    pub(super) fn with_run_every(run_every: usize) -> Self {
        Pass {
            run_every,
            text: String::new(),
            tail: 0,
            started: false,
            found: Found::default(),
        }
    }

    /// The text the next piece is decoded into.
    pub(super) fn text(&mut self) -> &mut String {
        &mut self.text
    }

    /// After text was added: tokenizes what can be, if enough has come.
    pub(super) fn wrote(&mut self) {
        self.drop_bom();
        if self.text.len() >= self.run_every && self.text.len() >= 2 * self.tail {
            self.run(false);
            self.tail = self.text.len();
        }
    }

    /// The end of the text (all of it written, [`wrote`](Self::wrote) called or not): the last
    /// run, and what the page yields.
    pub(super) fn finish(mut self) -> Found {
        self.drop_bom();
        self.run(true);
        self.found
    }

    /// Drops the document's first U+FEFF, once text has come: one inside a title or an href
    /// is text.
    fn drop_bom(&mut self) {
        if !self.started && !self.text.is_empty() {
            self.started = true;
            if self.text.starts_with('\u{feff}') {
                self.text.drain(..'\u{feff}'.len_utf8());
            }
        }
    }

    fn run(&mut self, last: bool) {
        let progress = Progress::default();
        let input = Input {
            inner: self.text.as_bytes().to_reader(),
            len: self.text.len(),
            progress: &progress,
        };
        let emitter = LinkEmitter {
            found: &mut self.found,
            progress: &progress,
            last,
            tag: TagName::default(),
            end_tag: false,
            self_closing: false,
            want: Want::Nothing,
            attr: AttrName::default(),
            taken: false,
            value: None,
            last_start_tag: TagName::default(),
        };
        match Tokenizer::new_with_emitter(input, emitter).finish() {
            Ok(()) => {}
            Err(never) => match never {},
        }
        if last {
            return;
        }
        self.found.roll_back();
        let resume = progress.resume.get();
        self.text.drain(..resume);
    }
}

/// What the reader and the emitter share during a run.
#[derive(Debug, Default)]
struct Progress {
    /// Bytes the tokenizer has read.
    read: Cell<usize>,
    /// Whether a read came to the end of the buffer: from then on, what the tokenizer does
    /// may depend on text that has not come yet.
    short: Cell<bool>,
    /// The last resume point's offset.
    resume: Cell<usize>,
}

/// html5gum's own reader over the buffer, counting what it hands out.
struct Input<'a> {
    inner: StringReader<'a>,
    len: usize,
    progress: &'a Progress,
}

impl Input<'_> {
    fn advance(&self, n: usize) {
        self.progress.read.set(self.progress.read.get() + n);
    }
}

impl Reader for Input<'_> {
    type Error = Infallible;

    // Always inlined, as html5gum's own reader is, so that each state's search for its needle
    // is compiled with the needle known: the tokenizer is 1.5x faster than with the search
    // built at run time (a call that was 28% of a crawl's CPU on the real site).
    #[inline(always)]
    fn read_byte(&mut self) -> Result<Option<u8>, Infallible> {
        let got = self.inner.read_byte()?;
        match got {
            Some(_) => self.advance(1),
            None => self.progress.short.set(true),
        }
        Ok(got)
    }

    #[inline(always)]
    fn try_read_string(&mut self, s: &[u8], case_sensitive: bool) -> Result<bool, Infallible> {
        let read = self.progress.read.get();
        if self.len - read < s.len() {
            // Not enough text to tell: the answer may change when more comes.
            self.progress.short.set(true);
        }
        let matched = self.inner.try_read_string(s, case_sensitive)?;
        if matched {
            self.advance(s.len());
        }
        Ok(matched)
    }

    #[inline(always)]
    fn read_until<'b>(
        &'b mut self,
        needle: &[u8],
        char_buf: &'b mut [u8; 4],
    ) -> Result<Option<&'b [u8]>, Infallible> {
        let progress = self.progress;
        let got = self.inner.read_until(needle, char_buf)?;
        match got {
            Some(chunk) => progress.read.set(progress.read.get() + chunk.len()),
            None => progress.short.set(true),
        }
        Ok(got)
    }
}

/// A tag or attribute name, kept as far as we compare names: up to `N` bytes; a longer one
/// matches nothing we know.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Name<const N: usize> {
    bytes: [u8; N],
    /// Bytes pushed; past `N` the name is only counted.
    len: usize,
}

/// A tag name: the longest we act on is 9 bytes (`plaintext`).
type TagName = Name<12>;
/// An attribute name, compared with `href` and `src` only.
type AttrName = Name<4>;

impl<const N: usize> Default for Name<N> {
    fn default() -> Self {
        Name {
            bytes: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> Name<N> {
    fn push(&mut self, s: &[u8]) {
        if let Some(room) = self.bytes.get_mut(self.len..self.len + s.len()) {
            room.copy_from_slice(s);
        }
        self.len += s.len();
    }

    /// The name, or `-` (no element's or attribute's) for one too long to keep.
    fn get(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(b"-")
    }

    fn is(&self, name: &[u8]) -> bool {
        self.get() == name
    }
}

/// Which attribute of the current start tag the pass keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Nothing,
    /// A link: `<a href>`, `<area href>`, `<frame src>`, `<iframe src>`.
    Link(&'static [u8]),
    /// The first `<base href>`.
    Base,
}

/// Start tags that end foreign content (the HTML standard's "in foreign content" breakout
/// list; `<font>` breaks out only with some attributes, which we do not look at).
const BREAKOUT: &[&[u8]] = &[
    b"b",
    b"big",
    b"blockquote",
    b"body",
    b"br",
    b"center",
    b"code",
    b"dd",
    b"div",
    b"dl",
    b"dt",
    b"em",
    b"embed",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"head",
    b"hr",
    b"i",
    b"img",
    b"li",
    b"listing",
    b"menu",
    b"meta",
    b"nobr",
    b"ol",
    b"p",
    b"pre",
    b"ruby",
    b"s",
    b"small",
    b"span",
    b"strong",
    b"strike",
    b"sub",
    b"sup",
    b"table",
    b"tt",
    b"u",
    b"ul",
    b"var",
];

/// The emitter: the tokenizer calls it for every piece of every token; it keeps links, base
/// and title, and tells the tokenizer which state a start tag switches it to.
struct LinkEmitter<'a> {
    found: &'a mut Found,
    progress: &'a Progress,
    /// Whether this run has the whole rest of the text.
    last: bool,
    /// The current tag's name.
    tag: TagName,
    end_tag: bool,
    self_closing: bool,
    want: Want,
    /// The current attribute's name, and whether it is the kept one.
    attr: AttrName,
    /// Whether the current tag's kept attribute was seen (a repeat is ignored, as the
    /// standard says).
    taken: bool,
    /// Where the kept attribute's value starts in the arena, while it is read.
    value: Option<usize>,
    last_start_tag: TagName,
}

impl LinkEmitter<'_> {
    /// The end of an attribute (another begins, or the tag ends): keeps it if it is the one.
    fn end_attribute(&mut self) {
        let value = self.value.take();
        let name = match self.want {
            Want::Nothing => return,
            Want::Link(name) => name,
            Want::Base => b"href",
        };
        if self.taken || !self.attr.is(name) {
            return;
        }
        self.taken = true;
        let arena = &mut self.found.arena;
        // An attribute without a value is an empty one.
        let range = value.unwrap_or(arena.len())..arena.len();
        match self.want {
            Want::Base => self.found.base = Some(range),
            _ => self.found.hrefs.push(range),
        }
    }

    /// The state a start tag switches the tokenizer to, and what it starts.
    fn start_tag(&mut self) -> Option<State> {
        let name = self.tag.get();
        let live = &mut self.found.between;
        if live.foreign > 0 {
            if BREAKOUT.contains(&name) {
                live.foreign = 0;
            } else {
                if (name == b"svg" || name == b"math") && !self.self_closing {
                    live.foreign += 1;
                }
                return None;
            }
        }
        match name {
            b"title" => {
                if self.found.title.is_none() {
                    self.found.title = Some(Vec::new());
                    live.in_title = true;
                }
                Some(State::RcData)
            }
            b"textarea" => Some(State::RcData),
            b"script" => Some(State::ScriptData),
            // Their content is text (an iframe's is fallback text for browsers without
            // frames). `<noscript>` is not here: a crawler runs no script, so it reads
            // `<noscript>` as markup, as a browser with scripting off does.
            b"style" | b"xmp" | b"iframe" | b"noembed" | b"noframes" => Some(State::RawText),
            b"plaintext" => Some(State::PlainText),
            // `<svg/>` opens nothing.
            b"svg" | b"math" if !self.self_closing => {
                live.foreign = 1;
                None
            }
            _ => None,
        }
    }
}

impl Emitter for LinkEmitter<'_> {
    type Token = Infallible;

    fn set_last_start_tag(&mut self, last_start_tag: Option<&[u8]>) {
        self.last_start_tag = TagName::default();
        if let Some(name) = last_start_tag {
            self.last_start_tag.push(name);
        }
    }

    fn emit_eof(&mut self) {}

    fn emit_error(&mut self, _: Error) {}

    #[inline]
    fn should_emit_errors(&mut self) -> bool {
        false
    }

    fn pop_token(&mut self) -> Option<Infallible> {
        None
    }

    #[inline]
    fn emit_string(&mut self, s: &[u8]) {
        if !self.found.between.in_title {
            return;
        }
        if let Some(title) = &mut self.found.title {
            let room = TITLE_ROOM.saturating_sub(title.len()).min(s.len());
            title.extend_from_slice(&s[..room]);
            if room < s.len() {
                // Full: the title is the longest prefix that fits, whatever comes later.
                self.found.between.in_title = false;
            }
        }
    }

    fn init_start_tag(&mut self) {
        self.tag = TagName::default();
        self.end_tag = false;
        self.self_closing = false;
        self.want = Want::Nothing;
        self.taken = false;
        self.value = None;
        self.attr = AttrName::default();
    }

    fn init_end_tag(&mut self) {
        self.init_start_tag();
        self.end_tag = true;
    }

    fn init_comment(&mut self) {}

    fn emit_current_tag(&mut self) -> Option<State> {
        self.end_attribute();
        let next = if self.end_tag {
            match self.tag.get() {
                b"title" => self.found.between.in_title = false,
                b"svg" | b"math" => {
                    let live = &mut self.found.between;
                    live.foreign = live.foreign.saturating_sub(1);
                }
                _ => {}
            }
            None
        } else {
            self.last_start_tag = self.tag;
            self.start_tag()
        };
        // A resume point: the tag ended before the buffer did, and the tokenizer goes on in
        // the data state, as a fresh one would start.
        if next.is_none() && !self.last && !self.progress.short.get() {
            self.progress.resume.set(self.progress.read.get());
            self.found.set_mark();
        }
        next
    }

    fn emit_current_comment(&mut self) {}

    fn emit_current_doctype(&mut self) {}

    fn set_self_closing(&mut self) {
        self.self_closing = true;
    }

    fn set_force_quirks(&mut self) {}

    #[inline]
    fn push_tag_name(&mut self, s: &[u8]) {
        self.tag.push(s);
    }

    fn push_comment(&mut self, _: &[u8]) {}

    fn push_doctype_name(&mut self, _: &[u8]) {}

    fn init_doctype(&mut self) {}

    fn init_attribute(&mut self) {
        if self.want == Want::Nothing {
            if self.end_tag {
                return;
            }
            // The name is complete once attributes begin: decide once per tag.
            self.want = match self.tag.get() {
                b"a" | b"area" => Want::Link(b"href"),
                b"frame" | b"iframe" => Want::Link(b"src"),
                // The first only; and an `<svg>`'s `<base>` is not the page's.
                b"base" if self.found.between.foreign == 0 && self.found.base.is_none() => {
                    Want::Base
                }
                _ => return,
            };
        } else {
            self.end_attribute();
        }
        self.attr = AttrName::default();
    }

    #[inline]
    fn push_attribute_name(&mut self, s: &[u8]) {
        if self.want != Want::Nothing {
            self.attr.push(s);
        }
    }

    fn init_attribute_value(&mut self) {
        let name = match self.want {
            Want::Nothing => return,
            Want::Link(name) => name,
            Want::Base => b"href",
        };
        if !self.taken && self.attr.is(name) {
            self.value = Some(self.found.arena.len());
        }
    }

    #[inline]
    fn push_attribute_value(&mut self, s: &[u8]) {
        if self.value.is_some() {
            self.found.arena.extend_from_slice(s);
        }
    }

    fn set_doctype_public_identifier(&mut self, _: &[u8]) {}

    fn set_doctype_system_identifier(&mut self, _: &[u8]) {}

    fn push_doctype_public_identifier(&mut self, _: &[u8]) {}

    fn push_doctype_system_identifier(&mut self, _: &[u8]) {}

    fn current_is_appropriate_end_tag_token(&mut self) -> bool {
        self.end_tag && self.tag.len <= self.tag.bytes.len() && self.tag == self.last_start_tag
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&mut self) -> bool {
        self.found.between.foreign > 0
    }
}
