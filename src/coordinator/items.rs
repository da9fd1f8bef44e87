//! The item hook: where an extractor's item lands. An item goes into its page's record and, if
//! a library user asked for items ([`crate::Crawl::for_each`]), to their callback, in record
//! order, on the thread that holds the coordinator.

use serde_json::Value;

use crate::record::Record;

/// An error your item callback returned; it stops the crawl.
pub type ItemError = Box<dyn std::error::Error + Send + Sync>;

/// The callback [`crate::Crawl::for_each`] installs (items as JSON; it reads them back typed).
/// It lives as long as the crawl (`'h`), so it may borrow from the caller's stack.
pub(crate) type ItemHook<'h> = Box<dyn FnMut(&Record, Value) -> Result<(), ItemError> + Send + 'h>;

/// Why the item callback stopped the crawl.
pub(crate) struct HookFailed(pub String);

/// Whether `item` is the worker's stand-in for an extractor that failed on its page
/// (`{"extract_error": "..."}`: it panicked, or its item would not serialise).
pub(crate) fn is_extract_error(item: &Value) -> bool {
    matches!(item, Value::Object(map) if map.len() == 1 && map.contains_key("extract_error"))
}

/// Puts an extracted item in its record and gives it to `hook`, if there is one. An object's
/// keys go inline, unless one of them is a key of the record itself (an item with its own
/// `url` or `title`): then, as for anything that is not an object, the whole item goes under
/// `item`, so no record key is ever overwritten or doubled.
pub(crate) fn hand_over(
    record: &mut Record,
    item: Value,
    hook: Option<&mut ItemHook<'_>>,
) -> Result<(), HookFailed> {
    // Copied only when a callback wants it too (`--field` has none): this runs per page.
    let for_hook = hook.is_some().then(|| item.clone());
    match item {
        Value::Object(map) if !map.keys().any(|k| Record::is_own_key(k)) => {
            record.fields = map;
        }
        other => {
            record.fields.insert("item".to_owned(), other);
        }
    }
    let (Some(hook), Some(item)) = (hook, for_hook) else {
        return Ok(());
    };
    // A panic in the user's callback must not unwind through the coordinator (in threads mode
    // it would end a worker thread with this page half-recorded): it stops the crawl like an
    // error does.
    let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(record, item)));
    match called {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(HookFailed(e.to_string())),
        Err(panic) => Err(HookFailed(format!(
            "it panicked: {}",
            crate::worker::panic_message(&*panic)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record() -> Record {
        serde_json::from_value(json!({
            "url": "http://a.test/", "final_url": null, "status": 200, "depth": 0,
            "content_type": null, "bytes": 0, "truncated": false, "title": null, "links": 0,
            "attempts": 1, "fetch_ms": 0.0, "parse_ms": 0.0, "worker": null, "error": null
        }))
        .expect("record")
    }

    #[test]
    fn objects_go_inline_unless_a_key_clashes() {
        let mut r = record();
        hand_over(&mut r, json!({"price": "£3"}), None).ok();
        assert_eq!(r.fields.get("price"), Some(&json!("£3")));
        let mut r = record();
        hand_over(&mut r, json!({"title": "mine"}), None).ok();
        assert_eq!(r.fields.get("item"), Some(&json!({"title": "mine"})));
        let mut r = record();
        hand_over(&mut r, json!(7), None).ok();
        assert_eq!(r.fields.get("item"), Some(&json!(7)));
    }

    #[test]
    fn the_hook_sees_the_item_and_its_errors_and_panics_stop_the_crawl() {
        let mut seen = Vec::new();
        let mut hook: ItemHook = Box::new(move |_, item| {
            seen.push(item.clone());
            match item.as_i64() {
                Some(1) => Err("one is refused".into()),
                Some(2) => panic!("two"),
                _ => Ok(()),
            }
        });
        assert!(hand_over(&mut record(), json!(0), Some(&mut hook)).is_ok());
        let err = hand_over(&mut record(), json!(1), Some(&mut hook)).err();
        assert_eq!(err.map(|e| e.0).as_deref(), Some("one is refused"));
        let err = hand_over(&mut record(), json!(2), Some(&mut hook)).err();
        assert_eq!(err.map(|e| e.0).as_deref(), Some("it panicked: two"));
    }
}
