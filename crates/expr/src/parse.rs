//! Tokens and a precedence-climbing parser with Python's rules.

use crate::error::{Error, ErrorKind};
use slope_graph::Comparison;

/// How deeply a formula may nest parentheses, calls, signs and `**` (Python's parser
/// stops at 200 nested parentheses). A deeper formula is refused with
/// [`ErrorKind::TooDeep`]; a long flat sum or product is not nesting and has no limit.
pub const MAX_NESTING: usize = 200;

/// A parsed formula.
///
/// A chain of `+ -` (or of `* /`) is one node holding all its operands, so a sum of a
/// million terms is a wide tree, not a deep one; depth comes only from nesting, which the
/// parser bounds by [`MAX_NESTING`]. So walking, cloning, comparing or dropping a parsed
/// formula never recurses deeper than that.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number.
    Number(f64),
    /// A variable, with its column.
    Variable(String, usize),
    /// `-e` (`+e` parses to `e`).
    Neg(Box<Expr>),
    /// `first op e op e ...`, left-associative, for one precedence level (`+ -` or `* /`):
    /// each operand with its operator and the operator's column.
    Chain(Box<Expr>, Vec<(char, Expr, usize)>),
    /// `base ** exponent` (right-associative), with the column of `**`.
    Power(Box<Expr>, Box<Expr>, usize),
    /// `f(args)`, with the column of `f`.
    Call(String, Vec<Expr>, usize),
    /// `a op b` for a comparison `op` (`>`, `<`, `>=`, `<=`, `==`, `!=`), with the column of
    /// `op`: a mask of ones and zeros, a constant (PyTorch's boolean tensor, as a number).
    Compare(Box<Expr>, Comparison, Box<Expr>, usize),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Op(char),
    Compare(Comparison),
    Pow,
    Open,
    Close,
    Comma,
    LBracket,
    RBracket,
    Equals,
    End,
}

/// The named constants of formulas and points: `pi`, `e`, `inf`, `nan` (so these are not
/// variable names).
pub fn constant(name: &str) -> Option<f64> {
    match name {
        "pi" => Some(core::f64::consts::PI),
        "e" => Some(core::f64::consts::E),
        "inf" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    }
}

/// One `name=value` of a point: the name, the values, whether it is a vector, the column.
pub(crate) type Assignment = (String, Vec<f64>, bool, usize);

/// Tokens with their 1-based columns.
pub(crate) struct Lexer {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    source: String,
    /// Nesting of the operand being parsed, bounded by `MAX_NESTING`.
    depth: usize,
}

impl Lexer {
    pub(crate) fn new(source: &str) -> Result<Lexer, Error> {
        let chars: Vec<char> = source.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let column = i + 1;
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let text: String = chars[start..i].iter().collect();
                let value = text
                    .parse::<f64>()
                    .map_err(|_| Error::new(ErrorKind::Syntax, format!("`{text}` is not a number"), column, source))?;
                tokens.push((Token::Number(value), column));
                continue;
            }
            if c.is_ascii_lowercase() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_lowercase() || chars[i].is_ascii_digit() || chars[i] == '_')
                {
                    i += 1;
                }
                tokens.push((Token::Name(chars[start..i].iter().collect()), column));
                continue;
            }
            let token = match c {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    i += 1;
                    Token::Pow
                }
                '+' | '-' | '*' | '/' => Token::Op(c),
                '>' | '<' | '!' | '=' if chars.get(i + 1) == Some(&'=') => {
                    i += 1;
                    Token::Compare(match c {
                        '>' => Comparison::Ge,
                        '<' => Comparison::Le,
                        '!' => Comparison::Ne,
                        _ => Comparison::Eq,
                    })
                }
                '>' => Token::Compare(Comparison::Gt),
                '<' => Token::Compare(Comparison::Lt),
                '(' => Token::Open,
                ')' => Token::Close,
                ',' => Token::Comma,
                '[' => Token::LBracket,
                ']' => Token::RBracket,
                '=' => Token::Equals,
                '^' => {
                    return Err(Error::new(
                        ErrorKind::Syntax,
                        "`^` is not a power here: write `**`, as in Python",
                        column,
                        source,
                    ))
                }
                _ if c.is_ascii_uppercase() => {
                    return Err(Error::new(
                        ErrorKind::Syntax,
                        format!("`{c}`: names are lowercase ([a-z][a-z0-9_]*)"),
                        column,
                        source,
                    ))
                }
                _ => return Err(Error::new(ErrorKind::Syntax, format!("unexpected character `{c}`"), column, source)),
            };
            tokens.push((token, column));
            i += 1;
        }
        tokens.push((Token::End, chars.len() + 1));
        Ok(Lexer { tokens, pos: 0, source: source.to_string(), depth: 0 })
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].0
    }

    fn column(&self) -> usize {
        self.tokens[self.pos.min(self.tokens.len() - 1)].1
    }

    fn next(&mut self) -> (Token, usize) {
        let t = self.tokens[self.pos.min(self.tokens.len() - 1)].clone();
        self.pos += 1;
        t
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Syntax, message, self.column(), &self.source)
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), Error> {
        if *self.peek() == token {
            self.next();
            Ok(())
        } else {
            Err(self.error(format!("expected {what}")))
        }
    }

    pub(crate) fn column_now(&self) -> usize {
        self.column()
    }

    pub(crate) fn at_end(&self) -> bool {
        *self.peek() == Token::End
    }

    /// expr := sum (comparison sum)?          (one comparison: `a < b < c` is refused)
    pub(crate) fn expr(&mut self) -> Result<Expr, Error> {
        let left = self.sum()?;
        let Token::Compare(op) = *self.peek() else { return Ok(left) };
        let column = self.next().1;
        let right = self.sum()?;
        if let Token::Compare(_) = *self.peek() {
            return Err(self.error(
                "a chain of comparisons (`a < b < c`) is not taken: combine two masks, as in `(a < b) * (b < c)`",
            ));
        }
        Ok(Expr::Compare(Box::new(left), op, Box::new(right), column))
    }

    /// sum := term (('+' | '-') term)*
    fn sum(&mut self) -> Result<Expr, Error> {
        self.chain(['+', '-'], Lexer::term)
    }

    /// term := unary (('*' | '/') unary)*
    fn term(&mut self) -> Result<Expr, Error> {
        self.chain(['*', '/'], Lexer::unary)
    }

    /// `operand (op operand)*` for the two operators `ops`, as one [`Expr::Chain`].
    fn chain(&mut self, ops: [char; 2], operand: fn(&mut Lexer) -> Result<Expr, Error>) -> Result<Expr, Error> {
        let first = operand(self)?;
        let mut rest = Vec::new();
        while let Token::Op(op) = *self.peek() {
            if !ops.contains(&op) {
                break;
            }
            let column = self.next().1;
            rest.push((op, operand(self)?, column));
        }
        Ok(if rest.is_empty() { first } else { Expr::Chain(Box::new(first), rest) })
    }

    /// unary := ('-' | '+') unary | power       (so `-x**2` is `-(x**2)`)
    ///
    /// Every nesting (a parenthesis, a call's argument, a sign, an exponent) passes through
    /// here, so this is where the depth is counted.
    fn unary(&mut self) -> Result<Expr, Error> {
        if self.depth >= MAX_NESTING {
            return Err(Error::new(
                ErrorKind::TooDeep,
                format!(
                    "the formula nests more than {MAX_NESTING} levels deep (parentheses, calls, signs or `**`); \
                     split it into smaller formulas"
                ),
                self.column(),
                &self.source,
            ));
        }
        self.depth += 1;
        let result = self.unary_at_depth();
        self.depth -= 1;
        result
    }

    fn unary_at_depth(&mut self) -> Result<Expr, Error> {
        match *self.peek() {
            Token::Op('-') => {
                self.next();
                Ok(Expr::Neg(Box::new(self.unary()?)))
            }
            Token::Op('+') => {
                self.next();
                self.unary()
            }
            _ => self.power(),
        }
    }

    /// power := primary ('**' unary)?          (right-associative: `2**3**2` is `2**(3**2)`)
    fn power(&mut self) -> Result<Expr, Error> {
        let base = self.primary()?;
        if *self.peek() == Token::Pow {
            let column = self.next().1;
            return Ok(Expr::Power(Box::new(base), Box::new(self.unary()?), column));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, Error> {
        let (token, column) = self.next();
        match token {
            Token::Number(v) => Ok(Expr::Number(v)),
            Token::Name(name) if *self.peek() != Token::Open && constant(&name).is_some() => {
                Ok(Expr::Number(constant(&name).unwrap_or(f64::NAN)))
            }
            Token::Name(name) => {
                if *self.peek() == Token::Open {
                    self.next();
                    let mut args = Vec::new();
                    if *self.peek() != Token::Close {
                        loop {
                            args.push(self.expr()?);
                            if *self.peek() == Token::Comma {
                                self.next();
                                continue;
                            }
                            break;
                        }
                    }
                    self.expect(Token::Close, "`)` to close the call")?;
                    Ok(Expr::Call(name, args, column))
                } else {
                    Ok(Expr::Variable(name, column))
                }
            }
            Token::Open => {
                let inner = self.expr()?;
                self.expect(Token::Close, "`)`")?;
                Ok(inner)
            }
            Token::End => {
                self.pos -= 1;
                Err(self.error("the formula ends where a number, a variable or `(` was expected"))
            }
            _ => {
                self.pos -= 1;
                Err(self.error("expected a number, a variable or `(`"))
            }
        }
    }

    /// A number with an optional sign, for points.
    pub(crate) fn signed_number(&mut self) -> Result<f64, Error> {
        let sign = match *self.peek() {
            Token::Op('-') => {
                self.next();
                -1.0
            }
            Token::Op('+') => {
                self.next();
                1.0
            }
            _ => 1.0,
        };
        match self.next() {
            (Token::Number(v), _) => Ok(sign * v),
            (Token::Name(name), _) if constant(&name).is_some() => Ok(sign * constant(&name).unwrap_or(f64::NAN)),
            _ => {
                self.pos -= 1;
                Err(Error::new(
                    ErrorKind::Point,
                    "expected a number (digits, `inf`, `nan`, `pi` or `e`)",
                    self.column(),
                    &self.source,
                ))
            }
        }
    }

    /// point := name '=' (number | '[' numbers ']' | 'linspace' '(' a ',' b ',' n ')') (',' ...)*
    pub(crate) fn point(&mut self) -> Result<Vec<Assignment>, Error> {
        let mut out = Vec::new();
        loop {
            let (token, column) = self.next();
            let Token::Name(name) = token else {
                self.pos -= 1;
                return Err(Error::new(
                    ErrorKind::Point,
                    "expected a variable name, as in `x=2,y=-1.5`",
                    column,
                    &self.source,
                ));
            };
            if *self.peek() != Token::Equals {
                return Err(Error::new(
                    ErrorKind::Point,
                    format!("expected `=` after `{name}`"),
                    self.column(),
                    &self.source,
                ));
            }
            self.next();
            let (values, vector) = match self.peek().clone() {
                Token::LBracket => {
                    self.next();
                    let mut v = Vec::new();
                    if *self.peek() != Token::RBracket {
                        loop {
                            v.push(self.signed_number()?);
                            if *self.peek() == Token::Comma {
                                self.next();
                                continue;
                            }
                            break;
                        }
                    }
                    if *self.peek() != Token::RBracket {
                        return Err(Error::new(ErrorKind::Point, "expected `,` or `]`", self.column(), &self.source));
                    }
                    self.next();
                    (v, true)
                }
                Token::Name(f) if f == "linspace" => {
                    let at = self.column();
                    self.next();
                    self.expect(Token::Open, "`(` after linspace")
                        .map_err(|e| Error { kind: ErrorKind::Point, ..e })?;
                    let start = self.signed_number()?;
                    self.expect(Token::Comma, "`,`").map_err(|e| Error { kind: ErrorKind::Point, ..e })?;
                    let end = self.signed_number()?;
                    self.expect(Token::Comma, "`,`").map_err(|e| Error { kind: ErrorKind::Point, ..e })?;
                    let n_at = self.column();
                    let steps = self.signed_number()?;
                    self.expect(Token::Close, "`)`").map_err(|e| Error { kind: ErrorKind::Point, ..e })?;
                    if steps < 1.0 || steps.fract() != 0.0 || steps > 1e7 {
                        return Err(Error::new(
                            ErrorKind::Point,
                            "linspace needs a whole number of steps between 1 and 10^7",
                            n_at,
                            &self.source,
                        ));
                    }
                    let _ = at;
                    (linspace(start, end, steps as usize), true)
                }
                _ => (vec![self.signed_number()?], false),
            };
            out.push((name, values, vector, column));
            match self.next() {
                (Token::Comma, _) => continue,
                (Token::End, _) => return Ok(out),
                (_, column) => {
                    return Err(Error::new(ErrorKind::Point, "expected `,` between variables", column, &self.source))
                }
            }
        }
    }
}

/// `steps` points from `start` to `end`, both exact (as `torch.linspace`).
pub fn linspace(start: f64, end: f64, steps: usize) -> Vec<f64> {
    let step = if steps > 1 { (end - start) / (steps - 1) as f64 } else { 0.0 };
    (0..steps)
        .map(|i| if i < steps / 2 { start + step * i as f64 } else { end - step * (steps - 1 - i) as f64 })
        .collect()
}
