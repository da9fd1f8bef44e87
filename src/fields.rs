//! `--field NAME=SELECTOR`: declarative extraction without code.
//!
//! Each field is a CSS selector, optionally ending in `@attr` to take that attribute instead of
//! the text (`img@src`, `a.next@href`, `meta[name=description]@content`), optionally wrapped in
//! a function that says what to take. On each page a field becomes one key of the record, whose
//! JSON type never depends on how many elements matched:
//!
//! | field | value |
//! |---|---|
//! | `NAME=SEL` | the first non-blank match's text (whitespace collapsed), or null |
//! | `NAME=first(SEL)` | the first match's text, `""` if it is blank, or null |
//! | `NAME=all(SEL)` | every match's text, blank ones as `""`: always a list |
//! | `NAME=count(SEL)` | how many elements match, blank ones included: a number |
//!
//! With `@attr` (`all(img@src)`, or `all(img)@src`), the same over the matching elements that
//! have the attribute. Attributes that hold a
//! URL ([`URL_ATTRIBUTES`]: `href`, `src`, ...) come resolved against the page and its
//! `<base href>`, as a scraper wants them (`/img/a.png` becomes
//! `https://shop.example/img/a.png`); a value that does not resolve is kept as written. It is
//! an ordinary [`Extractor`], so it runs in every mode exactly like one written in Rust.

use serde_json::{Map, Value};

use crate::record::Record;
use crate::scrape::{Css, Extracted, Extractor, Page};

/// One `--field`.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub css: Css,
    /// Take this attribute; `None`: the element's text.
    pub attr: Option<String>,
    /// What to take of the matches.
    pub take: Take,
}

/// What a field takes of the elements its selector matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// `NAME=SEL`: the first non-blank value, or null.
    FirstFilled,
    /// `first(SEL)`: the first match's value, blank or not, or null.
    First,
    /// `all(SEL)`: every match's value, as a list.
    All,
    /// `count(SEL)`: how many match.
    Count,
}

/// A `--field` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    /// No `=`, or nothing before or after it.
    #[error(
        "--field {spec:?}: expected NAME=SELECTOR, NAME=first(SELECTOR), NAME=all(SELECTOR) or \
         NAME=count(SELECTOR) (for example price=.price, photos=all(img@src), h2s=count(h2))"
    )]
    Shape {
        /// The `--field` value as given.
        spec: String,
    },
    /// The name is one of the record's own keys ([`crate::Record::KEYS`]) or `fields`.
    #[error("--field {spec:?}: {name:?} is already a key of every record; choose another name")]
    Reserved {
        /// The `--field` value as given.
        spec: String,
        /// The name it asked for, trimmed.
        name: String,
    },
    /// An earlier `--field` has the same name.
    #[error("--field {spec:?}: the name {name:?} is given twice")]
    Duplicate {
        /// The later `--field` value, as given.
        spec: String,
        /// The name both use.
        name: String,
    },
    /// The selector (without any `@attr`) is not valid CSS.
    #[error("--field {spec:?}: {source}")]
    Selector {
        /// The `--field` value as given.
        spec: String,
        /// Why the selector does not parse.
        source: crate::scrape::CssError,
    },
}

impl Field {
    /// Parses `NAME=SELECTOR` or `NAME=SELECTOR@attr`.
    pub fn parse(spec: &str) -> Result<Field, FieldError> {
        let shape = || FieldError::Shape {
            spec: spec.to_owned(),
        };
        let (name, selector) = spec.split_once('=').ok_or_else(shape)?;
        let (name, selector) = (name.trim(), selector.trim());
        if name.is_empty() || selector.is_empty() {
            return Err(shape());
        }
        if Record::is_own_key(name) {
            return Err(FieldError::Reserved {
                spec: spec.to_owned(),
                name: name.to_owned(),
            });
        }
        let (take, selector, after) = function(selector).ok_or_else(shape)?;
        // `@attr` only counts at the very end, and only if it names an attribute, so an `@`
        // inside a quoted attribute value stays part of the selector.
        let (css, attr) = match (after, selector.rsplit_once('@')) {
            // `all(img)@src`: the attribute after the parentheses.
            (Some(attr), _) => (selector, Some(attr)),
            (None, Some((css, attr))) if !css.trim().is_empty() && is_attr_name(attr) => {
                (css.trim(), Some(attr))
            }
            _ => (selector, None),
        };
        // HTML attribute names are case-insensitive and the parser lowercases them.
        let attr = attr.map(str::to_ascii_lowercase);
        let css = Css::new(css).map_err(|source| FieldError::Selector {
            spec: spec.to_owned(),
            source,
        })?;
        Ok(Field {
            name: name.to_owned(),
            css,
            attr,
            take,
        })
    }

    /// This field's value on `page`.
    fn value(&self, page: &Page<'_>) -> Value {
        // Every matching element's value, blank ones as "" (`None`: it lacks the attribute).
        let values = page.select(&self.css).map(|e| match &self.attr {
            Some(attr) => e.value().attr(attr).map(|v| v.trim().to_owned()),
            None => Some(collapse(e.text())),
        });
        let resolve = |value: String| match &self.attr {
            Some(attr) if URL_ATTRIBUTES.contains(&attr.as_str()) => {
                page.base_url().join(&value).map_or(value, String::from)
            }
            _ => value,
        };
        match self.take {
            Take::Count => Value::from(values.flatten().count()),
            Take::All => Value::Array(
                values
                    .flatten()
                    .map(|v| Value::String(resolve(v)))
                    .collect(),
            ),
            Take::First => values
                .flatten()
                .next()
                .map_or(Value::Null, |v| Value::String(resolve(v))),
            Take::FirstFilled => values
                .flatten()
                .find(|v| !v.is_empty())
                .map_or(Value::Null, |v| Value::String(resolve(v))),
        }
    }
}

/// The text of an element's text nodes, whitespace collapsed to single spaces.
fn collapse<'t>(text: impl Iterator<Item = &'t str>) -> String {
    text.flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `count(SEL)`, `first(SEL)` or `all(SEL)`, with an `@attr` inside or just after the
/// parentheses -> the function, `SEL` (with any `@attr` inside) and an `@attr` after; anything
/// else is a plain selector. `None`: a function with nothing inside.
fn function(spec: &str) -> Option<(Take, &str, Option<&str>)> {
    for (name, take) in [
        ("count(", Take::Count),
        ("first(", Take::First),
        ("all(", Take::All),
    ] {
        let Some(rest) = spec.strip_prefix(name) else {
            continue;
        };
        let (inner, after) = match rest.rsplit_once(')') {
            Some((inner, "")) => (inner, None),
            Some((inner, after)) => match after.strip_prefix('@') {
                Some(attr) if is_attr_name(attr) => (inner, Some(attr)),
                _ => return Some((Take::FirstFilled, spec, None)),
            },
            None => return Some((Take::FirstFilled, spec, None)),
        };
        let inner = inner.trim();
        return (!inner.is_empty()).then_some((take, inner, after));
    }
    Some((Take::FirstFilled, spec, None))
}

/// The HTML attributes whose value is a URL (HTML's own list, less `srcset` and `ping`, which
/// hold several): a `--field` taking one of them gets it resolved.
pub const URL_ATTRIBUTES: [&str; 9] = [
    "href",
    "src",
    "action",
    "formaction",
    "poster",
    "cite",
    "data",
    "longdesc",
    "background",
];

fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}

/// Parses every `--field`, refusing a name given twice.
pub fn parse_all(specs: &[String]) -> Result<Vec<Field>, FieldError> {
    let mut fields: Vec<Field> = Vec::with_capacity(specs.len());
    for spec in specs {
        let field = Field::parse(spec)?;
        if fields.iter().any(|f| f.name == field.name) {
            return Err(FieldError::Duplicate {
                spec: spec.clone(),
                name: field.name,
            });
        }
        fields.push(field);
    }
    Ok(fields)
}

/// The `--field`s of a crawl, as an extractor: every 2xx HTML page gets every key; links are followed
/// as usual.
#[derive(Debug, Clone)]
pub struct Fields(pub Vec<Field>);

impl Extractor for Fields {
    type Item = Map<String, Value>;

    fn extract(&self, page: &Page<'_>) -> Extracted<Map<String, Value>> {
        let item = self
            .0
            .iter()
            .map(|f| (f.name.clone(), f.value(page)))
            .collect();
        Extracted::item(item)
    }

    fn columns(&self) -> Vec<String> {
        self.0.iter().map(|f| f.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::HeaderMap;
    use url::Url;

    fn on_page(fields: &[&str], html: &str) -> Map<String, Value> {
        let specs: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
        let fields = Fields(parse_all(&specs).expect("fields parse"));
        let url = Url::parse("http://shop.test/p/q").expect("URL");
        let document = crate::scrape::parse_document(html);
        let headers = HeaderMap::new();
        let page = Page {
            url: &url,
            status: 200,
            headers: &headers,
            document: &document,
            links: &[],
            truncated: false,
        };
        fields.extract(&page).item.expect("an item")
    }

    #[test]
    fn text_attribute_list_and_missing() {
        let item = on_page(
            &[
                "price=.price",
                "img=all(img@SRC)",
                "note=p.none",
                "mail=a[href='mailto:a@b.test']",
                "mailto=a[href='mailto:a@b.test']@href",
            ],
            r#"<p class=price> £4.50 </p><img src=a.png><img src=b.png>
               <a href="mailto:a@b.test">write</a>"#,
        );
        assert_eq!(item["price"], "£4.50");
        assert_eq!(
            item["img"],
            serde_json::json!(["http://shop.test/p/a.png", "http://shop.test/p/b.png"]),
            "URL attributes are resolved against the page"
        );
        assert_eq!(item["note"], Value::Null);
        assert_eq!(
            item["mail"], "write",
            "an @ inside quotes is part of the selector"
        );
        assert_eq!(item["mailto"], "mailto:a@b.test");
    }

    #[test]
    fn count_first_and_all_keep_their_type_whatever_matches() {
        let fields = [
            "n=count(h2)",
            "first=first(h2)",
            "all=all(h2)",
            "plain=h2",
            "hrefs=all(a)@href",
            "linked=count(a@href)",
        ];
        // Many matches, a blank one first and one in the middle.
        let many = on_page(
            &fields,
            "<h2> </h2><h2>One</h2><h2></h2><h2>Two\n words</h2><a href=x>x</a><a>no href</a>",
        );
        assert_eq!(many["n"], 4, "blank elements count");
        assert_eq!(many["first"], "", "the first match, blank as it is");
        assert_eq!(many["all"], serde_json::json!(["", "One", "", "Two words"]));
        assert_eq!(many["plain"], "One", "the first non-blank match");
        assert_eq!(many["hrefs"], serde_json::json!(["http://shop.test/p/x"]));
        assert_eq!(
            many["linked"], 1,
            "only the elements that have the attribute"
        );
        // One match: still a list for all(), a number for count().
        let one = on_page(&fields, "<h2>Only</h2>");
        assert_eq!(one["n"], 1);
        assert_eq!(one["first"], "Only");
        assert_eq!(one["all"], serde_json::json!(["Only"]));
        assert_eq!(one["plain"], "Only");
        // None: 0, null, [], null.
        let none = on_page(&fields, "<p>nothing</p>");
        assert_eq!(none["n"], 0);
        assert_eq!(none["first"], Value::Null);
        assert_eq!(none["all"], serde_json::json!([]));
        assert_eq!(none["plain"], Value::Null);
        assert_eq!(none["hrefs"], serde_json::json!([]));
    }

    #[test]
    fn parentheses_of_css_are_not_functions() {
        let item = on_page(
            &["second=li:nth-child(2)", "not=count(li:not(.x))"],
            "<ul><li class=x>a</li><li>b</li><li>c</li></ul>",
        );
        assert_eq!(item["second"], "b");
        assert_eq!(item["not"], 2);
        // Text after the parentheses that is not `@attr`: taken as a selector, which fails.
        let odd = Field::parse("odd=all(li)x").expect_err("not CSS");
        assert!(matches!(odd, FieldError::Selector { .. }), "{odd}");
    }

    #[test]
    fn url_attributes_resolve_against_base_href_and_others_stay_as_written() {
        let item = on_page(
            &[
                "next=a.next@href",
                "logo=img@src",
                "alt=img@alt",
                "meta=meta[name=x]@content",
                "odd=a.odd@href",
            ],
            r#"<head><base href="/shop/"><meta name=x content="/not/a/url"></head>
               <a class=next href="?page=2">n</a><img src="../img/l.png" alt="../x">
               <a class=odd href="http://[oops">o</a>"#,
        );
        assert_eq!(item["next"], "http://shop.test/shop/?page=2");
        assert_eq!(item["logo"], "http://shop.test/img/l.png");
        assert_eq!(item["alt"], "../x", "alt is not a URL attribute");
        assert_eq!(item["meta"], "/not/a/url", "neither is content");
        assert_eq!(
            item["odd"], "http://[oops",
            "a value that does not resolve is kept"
        );
    }

    #[test]
    fn bad_fields_name_the_flag_and_the_problem() {
        let err = |spec: &str| Field::parse(spec).expect_err(spec).to_string();
        assert!(err("price").contains("expected NAME=SELECTOR"));
        assert!(err("n=count()").contains("NAME=count(SELECTOR)"));
        assert!(err("=.price").contains("expected NAME=SELECTOR"));
        assert!(err("url=a").contains("already a key"));
        let bad = err("price=p[");
        assert!(
            bad.starts_with("--field \"price=p[\"") && bad.contains("invalid CSS selector"),
            "{bad}"
        );
        let twice = parse_all(&["a=p".to_owned(), "a=div".to_owned()]).expect_err("twice");
        assert!(twice.to_string().contains("given twice"), "{twice}");
    }
}
