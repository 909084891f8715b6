//! Mutations: of the JSON value (a field dropped, of another type, out of range, odd text, duplicated keys,
//! deep nesting) and of the serialized bytes (truncated, flipped, inserted).
//!
//! `serde_json::Value` cannot hold what only raw text can say (a lone surrogate escape, `1e999`, a duplicate
//! key, 5,000 levels of nesting, invalid UTF-8), so such a value is put in as a placeholder string and the
//! raw text replaces the placeholder after serialization ([`Raws::splice`]).

use rand::Rng;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value, json};

/// Raw texts waiting to replace their placeholders in the serialized body.
#[derive(Debug, Default)]
pub struct Raws(Vec<Vec<u8>>);

const PLACEHOLDER: &str = "@@fuzz-raw-";

impl Raws {
    fn placeholder(&mut self, raw: Vec<u8>) -> Value {
        self.0.push(raw);
        json!(format!("{PLACEHOLDER}{}@@", self.0.len() - 1))
    }

    /// Puts each raw text where its placeholder (quotes included) was serialized.
    pub fn splice(&self, body: Vec<u8>) -> Vec<u8> {
        if self.0.is_empty() {
            return body;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut rest = &body[..];
        let marker = format!("\"{PLACEHOLDER}");
        while let Some(at) = find(rest, marker.as_bytes()) {
            out.extend_from_slice(&rest[..at]);
            let after = &rest[at + marker.len()..];
            let end = find(after, b"@@\"").unwrap_or(0);
            let index: Option<usize> = std::str::from_utf8(&after[..end])
                .ok()
                .and_then(|s| s.parse().ok());
            match index.and_then(|i| self.0.get(i)) {
                Some(raw) => {
                    out.extend_from_slice(raw);
                    rest = &after[end + 3..];
                }
                // Not one of ours (a later mutation cut it): keep the text as it is.
                None => {
                    out.extend_from_slice(marker.as_bytes());
                    rest = after;
                }
            }
        }
        out.extend_from_slice(rest);
        out
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether a mutation must leave the body valid JSON (the sibling check) or may break it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Valid,
    Any,
}

/// A replacement of another type or an edge value.
pub fn junk(rng: &mut SmallRng, raws: &mut Raws, syntax: Syntax, depth: u32) -> Value {
    let kinds = if syntax == Syntax::Any { 9 } else { 8 };
    match rng.random_range(0..kinds) {
        0 => [Value::Null, json!(true), json!(false)]
            .choose(rng)
            .cloned()
            .unwrap_or(Value::Null),
        1 => number(rng),
        2 | 3 => json!(string(rng)),
        4 if depth < 4 => {
            let n = rng.random_range(0..3);
            Value::Array((0..n).map(|_| junk(rng, raws, syntax, depth + 1)).collect())
        }
        5 if depth < 4 => {
            let mut m = Map::new();
            for _ in 0..rng.random_range(0..3) {
                let key = ["id", "text", "from", "", "💥", "value", "field"]
                    .choose(rng)
                    .unwrap_or(&"id");
                m.insert((*key).to_owned(), junk(rng, raws, syntax, depth + 1));
            }
            Value::Object(m)
        }
        6 | 7 => raws.placeholder(valid_raw(rng)),
        8 => raws.placeholder(invalid_raw(rng)),
        _ => json!([]),
    }
}

fn number(rng: &mut SmallRng) -> Value {
    match rng.random_range(0..12) {
        0 => json!(0),
        1 => json!(-1),
        2 => json!(i64::MIN),
        3 => json!(i64::MAX),
        4 => json!(u64::MAX),
        5 => json!(0.5),
        6 => json!(-1.5e-300),
        7 => json!(1e300),
        8 => json!(-0.0),
        9 => json!(rng.random::<i64>()),
        10 => json!(rng.random::<u64>()),
        _ => json!(rng.random::<f64>() * 1e20),
    }
}

fn string(rng: &mut SmallRng) -> String {
    match rng.random_range(0..12) {
        0 => String::new(),
        1 => " \t\n ".to_owned(),
        2 => "\u{0}".to_owned(),
        3 => "😍🔥👩\u{200d}👩\u{200d}👧".to_owned(),
        4 => "\u{feff}\u{fffe}\u{ffff}\u{10ffff}".to_owned(),
        5 => "\"\\/\u{8}\u{c}\n\r\t".to_owned(),
        6 => "x".repeat(if rng.random_ratio(1, 200) {
            rng.random_range(10_000..70_000)
        } else {
            rng.random_range(1..300)
        }),
        7 => "18058455121735594".to_owned(),
        8 => "-0".to_owned(),
        9 => "ä😍".repeat(rng.random_range(1..50)),
        10 => (0..rng.random_range(1..20))
            .map(|_| char::from_u32(rng.random_range(0..0x11_0000)).unwrap_or('\u{fffd}'))
            .collect(),
        _ => "comments".to_owned(),
    }
}

/// Text that is valid JSON syntax but that `serde_json::Value` cannot hold, or that serde rejects when typed.
fn valid_raw(rng: &mut SmallRng) -> Vec<u8> {
    let s: String = match rng.random_range(0..14) {
        // Lone or reversed surrogates: valid JSON grammar, not a Rust string.
        0 => r#""\ud800""#.into(),
        1 => r#""LINK \udfff""#.into(),
        2 => r#""\ud83d\ud83d""#.into(),
        3 => r#""\udc00\ud800x""#.into(),
        4 => r#""\u0000\u001f\u007f""#.into(),
        // Numbers out of every Rust type's range, and odd spellings.
        5 => "1e999".into(),
        6 => "-1e999".into(),
        7 => "123456789012345678901234567890".into(),
        8 => [
            "-0",
            "0e0",
            "1E+2",
            "-9223372036854775809",
            "18446744073709551616",
            "0.0000000000000000000000001",
        ]
        .choose(rng)
        .map_or_else(String::new, |s| (*s).to_owned()),
        // Nesting around serde_json's recursion limit (128) and far past it.
        9 | 10 => {
            let depth = *[64usize, 127, 128, 129, 300, 5_000]
                .choose(rng)
                .unwrap_or(&129);
            if rng.random_bool(0.5) {
                format!("{}{}", "[".repeat(depth), "]".repeat(depth))
            } else {
                format!("{}1{}", r#"{"a": "#.repeat(depth), "}".repeat(depth))
            }
        }
        11 => r#"{"id": "1", "id": "2"}"#.into(),
        12 => r#"{"": {}, "\u0000": [], "\ud800": null}"#.into(),
        _ => format!("\"{}\"", r"\u00e4\u00f6".repeat(rng.random_range(1..200))),
    };
    s.into_bytes()
}

/// Text that breaks JSON: invalid UTF-8, raw control characters, JavaScript-isms, cut tokens.
fn invalid_raw(rng: &mut SmallRng) -> Vec<u8> {
    match rng.random_range(0..10) {
        0 => b"\"\xff\xfe\"".to_vec(),
        1 => b"\"\xed\xa0\x80\"".to_vec(), // a surrogate encoded as UTF-8 (CESU-8)
        2 => b"\"a\x00b\"".to_vec(),
        3 => b"\"tab\there\nnewline\"".to_vec(),
        4 => b"NaN".to_vec(),
        5 => b"-Infinity".to_vec(),
        6 => b"[1, 2,]".to_vec(),
        7 => b"'single'".to_vec(),
        8 => b"\"unterminated".to_vec(),
        _ => b"\"\\x41\\u12\"".to_vec(),
    }
}

/// An object text with one key repeated (serde's derived structs refuse it; `Value` would hide it).
pub fn with_duplicate_key(
    rng: &mut SmallRng,
    raws: &mut Raws,
    object: &Map<String, Value>,
) -> Value {
    let mut text = serde_json::to_string(object).unwrap_or_default();
    let key = object
        .keys()
        .nth(rng.random_range(0..object.len().max(1)))
        .cloned()
        .unwrap_or_else(|| "id".to_owned());
    let again = json!(match rng.random_range(0..3) {
        0 => object.get(&key).cloned().unwrap_or(Value::Null),
        1 => json!("18000000000000099"),
        _ => Value::Null,
    });
    let pair = format!("{}: {}", json!(key), again);
    if object.is_empty() {
        text = format!("{{{pair}}}");
    } else if rng.random_bool(0.5) {
        text.insert_str(1, &format!("{pair}, "));
    } else {
        text.insert_str(text.len() - 1, &format!(", {pair}"));
    }
    raws.placeholder(text.into_bytes())
}

/// Changes the slot `key` of `parent`: drops it, gives it another type or an edge value, repeats a key in it,
/// or adds a key to it. Returns a short name of what was done.
pub fn mutate_slot(
    rng: &mut SmallRng,
    raws: &mut Raws,
    parent: &mut Map<String, Value>,
    key: &str,
    syntax: Syntax,
) -> &'static str {
    let current = parent.get(key).cloned();
    match rng.random_range(0..10) {
        0 | 1 => {
            parent.remove(key);
            "drop"
        }
        2 => match current {
            Some(Value::Object(o)) => {
                parent.insert(key.to_owned(), with_duplicate_key(rng, raws, &o));
                "duplicate_key"
            }
            Some(Value::String(s)) => {
                // The same string with every UTF-16 unit escaped (surrogate pairs too): must read the same.
                let escaped: String = s.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
                let raw = format!("\"{escaped}\"");
                parent.insert(key.to_owned(), raws.placeholder(raw.into_bytes()));
                "escaped"
            }
            _ => {
                parent.insert(key.to_owned(), junk(rng, raws, syntax, 0));
                "junk"
            }
        },
        3 => match current {
            Some(Value::Object(mut o)) => {
                o.insert(
                    ["extra", "id", "💥", ""]
                        .choose(rng)
                        .unwrap_or(&"extra")
                        .to_string(),
                    junk(rng, raws, syntax, 1),
                );
                parent.insert(key.to_owned(), Value::Object(o));
                "add_key"
            }
            other => {
                // Wrap in an array: a list where one value was expected.
                parent.insert(key.to_owned(), Value::Array(other.into_iter().collect()));
                "wrap"
            }
        },
        _ => {
            parent.insert(key.to_owned(), junk(rng, raws, syntax, 0));
            "junk"
        }
    }
}

/// A random node's JSON pointer: a walk down from the root that stops at each level with some chance, so
/// deep comment fields are reached about as often as envelope fields (and without listing every node).
fn random_pointer(rng: &mut SmallRng, root: &Value) -> String {
    let mut at = String::new();
    let mut node = root;
    loop {
        let next = match node {
            Value::Object(m) if !m.is_empty() && !rng.random_ratio(1, 6) => {
                let (k, child) = m.iter().nth(rng.random_range(0..m.len())).unwrap();
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                child
            }
            Value::Array(a) if !a.is_empty() && !rng.random_ratio(1, 6) => {
                let i = rng.random_range(0..a.len());
                at.push('/');
                at.push_str(&i.to_string());
                &a[i]
            }
            _ => return at,
        };
        node = next;
    }
}

/// Anything anywhere: 1-4 mutations at random nodes, including array surgery and, now and then, syntax
/// breakage (rarely, so that most bodies still reach the parser's per-change reading).
pub fn chaos(rng: &mut SmallRng, raws: &mut Raws, body: &mut Value) {
    for _ in 0..rng.random_range(1..=4) {
        let syntax = if rng.random_ratio(1, 8) {
            Syntax::Any
        } else {
            Syntax::Valid
        };
        let target = random_pointer(rng, body);
        let (parent_ptr, last) = match target.rfind('/') {
            Some(i) => (
                target[..i].to_owned(),
                target[i + 1..].replace("~1", "/").replace("~0", "~"),
            ),
            None => {
                *body = junk(rng, raws, syntax, 0);
                continue;
            }
        };
        let Some(parent) = body.pointer_mut(&parent_ptr) else {
            continue;
        };
        match parent {
            Value::Object(m) => {
                mutate_slot(rng, raws, m, &last, syntax);
            }
            Value::Array(a) => {
                let i: usize = last.parse().unwrap_or(0);
                match rng.random_range(0..6) {
                    0 if i < a.len() => {
                        a.remove(i);
                    }
                    1 if i < a.len() => {
                        // Duplicated delivery: Meta repeats ad comments.
                        let copy = a[i].clone();
                        a.insert(i, copy);
                    }
                    2 => a.clear(),
                    _ if i < a.len() => a[i] = junk(rng, raws, syntax, 0),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// Byte-level damage to a serialized body.
pub fn bytes(rng: &mut SmallRng, body: &mut Vec<u8>) {
    const INTERESTING: &[u8] = b"{}[]\",:\\u0 \x00\xff\xc3\xed\xa0\x80\xf4\x90\xef\xbb\xbf";
    for _ in 0..rng.random_range(1..=4) {
        if body.is_empty() {
            body.push(b'{');
        }
        let at = rng.random_range(0..body.len());
        match rng.random_range(0..7) {
            0 => body.truncate(at),
            1 => body[at] ^= 1 << rng.random_range(0..8),
            2 => body[at] = rng.random(),
            3 => {
                let n = rng.random_range(1..=4);
                for _ in 0..n {
                    let b = *INTERESTING.choose(rng).unwrap_or(&b'{');
                    body.insert(at, b);
                }
            }
            4 => {
                let end = (at + rng.random_range(1..=16)).min(body.len());
                body.drain(at..end);
            }
            5 => {
                let end = (at + rng.random_range(1..=64)).min(body.len());
                let copy = body[at..end].to_vec();
                let to = rng.random_range(0..=body.len());
                body.splice(to..to, copy);
            }
            _ => body[at] = *INTERESTING.choose(rng).unwrap_or(&b'"'),
        }
    }
}
