//! The lexer of the IR text: identifiers, `%values`, numbers and punctuation, with line
//! and column of every token. Whitespace and `//` comments are skipped, so the grammar
//! does not depend on line breaks.

use super::ParseError;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// A name or keyword: `kernel`, `add`, `f32`, `inf`, `x`.
    Ident(String),
    /// `%name`, without the `%`.
    Value(String),
    /// A decimal or `0x` hexadecimal integer, with its sign.
    Int(i128),
    /// A number with a `.` or an exponent, or `-inf`.
    Float(f64),
    Punct(char),
    Eof,
}

impl Tok {
    /// How the token is described in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Value(s) => format!("`%{s}`"),
            Tok::Int(i) => format!("`{i}`"),
            Tok::Float(x) => format!("`{x:?}`"),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::Eof => "the end of the text".into(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: u32,
    pub col: u32,
}

const PUNCT: &[char] = &['(', ')', '[', ']', '{', '}', ',', ':', '=', '<', '>', '^'];

fn is_word_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// Splits `text` into tokens, ending with [`Tok::Eof`].
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    while i < chars.len() {
        let c = chars[i];
        let (tline, tcol) = (line, col);
        let err = |m: String| ParseError {
            line: tline,
            col: tcol,
            message: m,
        };
        if c == '\n' {
            i += 1;
            line += 1;
            col = 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            col += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let tok = if c == '%' {
            i += 1;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            if i == start + 1 {
                return Err(err("`%` must be followed by a value name".into()));
            }
            Tok::Value(chars[start + 1..i].iter().collect())
        } else if c == '_' || c.is_ascii_alphabetic() {
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            Tok::Ident(chars[start..i].iter().collect())
        } else if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let (tok, end) = number(&chars, i).map_err(err)?;
            i = end;
            tok
        } else if c == '-'
            && chars[i + 1..].starts_with(&['i', 'n', 'f'])
            && !chars.get(i + 4).is_some_and(|&d| is_word_char(d))
        {
            i += 4;
            Tok::Float(f64::NEG_INFINITY)
        } else if PUNCT.contains(&c) {
            i += 1;
            Tok::Punct(c)
        } else {
            return Err(err(format!("unexpected character `{c}`")));
        };
        col += (i - start) as u32;
        toks.push(Token {
            tok,
            line: tline,
            col: tcol,
        });
    }
    toks.push(Token {
        tok: Tok::Eof,
        line,
        col,
    });
    Ok(toks)
}

/// Lexes the number starting at `chars[start]` (a digit or `-` and a digit).
fn number(chars: &[char], start: usize) -> Result<(Tok, usize), String> {
    let mut i = start;
    if chars[i] == '-' {
        i += 1;
    }
    let digits = |i: &mut usize, radix: u32| {
        let s = *i;
        while *i < chars.len() && chars[*i].is_digit(radix) {
            *i += 1;
        }
        *i > s
    };
    let is_hex = chars[i] == '0' && matches!(chars.get(i + 1), Some('x'));
    let mut is_float = false;
    if is_hex {
        i += 2;
        if !digits(&mut i, 16) {
            return Err("`0x` must be followed by hexadecimal digits".into());
        }
    } else {
        digits(&mut i, 10);
        if chars.get(i) == Some(&'.') {
            i += 1;
            is_float = true;
            if !digits(&mut i, 10) {
                return Err("a `.` in a number must be followed by digits".into());
            }
        }
        if matches!(chars.get(i), Some('e' | 'E')) {
            i += 1;
            is_float = true;
            if matches!(chars.get(i), Some('+' | '-')) {
                i += 1;
            }
            if !digits(&mut i, 10) {
                return Err("an exponent must have digits".into());
            }
        }
    }
    let text: String = chars[start..i].iter().collect();
    if chars.get(i).is_some_and(|&c| is_word_char(c)) {
        return Err(format!("malformed number `{text}{}`", chars[i]));
    }
    let tok = if is_float {
        Tok::Float(text.parse().map_err(|_| format!("malformed number `{text}`"))?)
    } else if is_hex {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let v = i128::from_str_radix(&digits[2..], 16).map_err(|_| format!("integer `{text}` is too large"))?;
        Tok::Int(if neg { -v } else { v })
    } else {
        Tok::Int(text.parse().map_err(|_| format!("integer `{text}` is too large"))?)
    };
    Ok((tok, i))
}
