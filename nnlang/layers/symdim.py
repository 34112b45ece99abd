"""Exact symbolic sizes: `H // 2`, `(H - 3) // 2 + 1`, `64 * H * W`.

A dim is an int (known), a str (a plain symbol: N, H ...), a SymExpr (an expression over symbols) or
None (unknown). Plain symbols stay str: printers, emitters and ONNX dim_params rely on it. Rules build
dims with the functions below (never with Python operators on dims: `"H" * 2` is "HH").

A SymExpr is a polynomial with integer coefficients over atoms, an atom being a symbol or a floor
division `FloorDiv(poly, k)` (k >= 2). Floors are normalised as they are built: multiples of k are
pulled out of every coefficient (`(2 * H + 1) // 2` -> `H + 1 // 2` -> `H`) and out of a constant
>= k, a common factor of k and the coefficients is divided out, a floor of a floor plus anything is
one floor (`(P // a + R) // b` -> `(P + a * R) // (a * b)`, so a chain of strided layers stays one
level deep). A negative constant stays inside, so a rule's formula reads as written
(`(H - 3) // 2 + 1`). Equality and hashing use the full normal form, in which every floor's constant
is also reduced to 0..k-1: `(H - 3) // 2 + 1 == (H - 1) // 2`, with one hash.

Expressions are capped (MAX_SIZE terms counted through nested floors, MAX_DEPTH nested floors,
MAX_DEGREE factors per term): a result beyond a cap is None (unknown), so analysis cost never grows
with the depth of a network.
"""

from __future__ import annotations

from math import gcd
from typing import Optional, Union

MAX_SIZE = 24
MAX_DEPTH = 4
MAX_DEGREE = 6
_MAX_COEFF = 1 << 62


class FloorDiv:
    """`num // k`: num a frozen polynomial, k >= 2. Immutable and hashable (structurally)."""

    __slots__ = ("num", "k", "key", "_hash", "depth", "size", "big", "_full")

    def __init__(self, num: tuple, k: int):
        self.num = num
        self.k = k
        self.key = (1, _poly_key(num), k)
        self._hash = hash(self.key)
        self.depth = 1 + max((a.depth for m, _ in num for a in m if type(a) is FloorDiv), default=0)
        self.size = _poly_size(num)
        self.big = max([k, *(abs(c) for _, c in num), *(a.big for m, _ in num for a in m if type(a) is FloorDiv)])
        self._full = None

    def __eq__(self, other):
        return type(other) is FloorDiv and self.key == other.key

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"FloorDiv({_fmt_atom(self, bare=True)!r})"

    def full(self) -> dict:
        """This floor in the full normal form, as a polynomial dict."""
        if self._full is None:
            self._full = _floordiv(_full_dict(self.num), self.k, True)
        return self._full


class SymExpr:
    """A compound symbolic dim. `str()` is readable canonical text in the language's operators."""

    __slots__ = ("terms", "_full", "_hash", "_text")

    def __init__(self, terms: tuple):
        self.terms = terms  # frozen polynomial, as built (see the module doc)
        self._full = None
        self._hash = None
        self._text = None

    def full_key(self) -> tuple:
        if self._full is None:
            self._full = _poly_key(_freeze(_full_dict(self.terms)))
        return self._full

    def __eq__(self, other):
        if type(other) is SymExpr:
            return self.terms == other.terms or self.full_key() == other.full_key()
        return NotImplemented

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self.full_key())
        return self._hash

    def __str__(self):
        if self._text is None:
            self._text = _fmt_factored(self.terms) or _fmt_poly(self.terms)
        return self._text

    def __repr__(self):
        return f"SymExpr({str(self)!r})"

    # Operators for convenience on SymExpr operands (rules use the functions: a str operand has its own).
    def __add__(self, o):
        return add(self, o)

    __radd__ = __add__

    def __sub__(self, o):
        return sub(self, o)

    def __rsub__(self, o):
        return sub(o, self)

    def __mul__(self, o):
        return mul(self, o)

    __rmul__ = __mul__

    def __neg__(self):
        return neg(self)

    def __floordiv__(self, k):
        return floordiv(self, k)


Dim = Union[int, str, SymExpr, None]


def is_symbolic(d) -> bool:
    return type(d) is str or type(d) is SymExpr


# ---- polynomials: dict {monomial: coeff}; a monomial is a sorted tuple of atoms; () the constant ----

def _atom_key(a):
    return (0, a) if type(a) is str else a.key


def _mono_key(m: tuple):
    return tuple(_atom_key(a) for a in m)


def _term_order(item):
    m = item[0]
    return (not m, _mono_key(m))  # the constant last


def _freeze(p: dict) -> tuple:
    return tuple(sorted(((m, c) for m, c in p.items() if c), key=_term_order))


def _poly_key(frozen: tuple) -> tuple:
    return tuple((_mono_key(m), c) for m, c in frozen)


def _poly_size(frozen) -> int:
    return sum(1 + sum(a.size for a in m if type(a) is FloorDiv) for m, _ in frozen)


def _lift(d) -> Optional[dict]:
    t = type(d)
    if t is int:
        return {(): d} if d else {}
    if t is str:
        return {(d,): 1}
    if t is SymExpr:
        return dict(d.terms)
    if isinstance(d, int) and not isinstance(d, bool):  # an int subclass
        return {(): int(d)} if d else {}
    return None


def _add_into(out: dict, p: dict, scale: int = 1):
    for m, c in p.items():
        v = out.get(m, 0) + c * scale
        if v:
            out[m] = v
        else:
            out.pop(m, None)


def _mul_poly(p: dict, q: dict) -> dict:
    out: dict = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            m = m1 + m2
            if len(m) > 1:
                m = tuple(sorted(m, key=_atom_key))
            v = out.get(m, 0) + c1 * c2
            if v:
                out[m] = v
            else:
                out.pop(m, None)
    return out


def _floordiv(p: dict, k: int, full: bool) -> dict:
    """The polynomial of p // k (k >= 1), normalised (full: the floor's constant reduced too)."""
    if k == 1:
        return dict(p)
    # (Q // a + R) // k == (Q + a * R) // (a * k): one floor instead of two levels.
    inner = [m for m, c in p.items() if c == 1 and len(m) == 1 and type(m[0]) is FloorDiv]
    if len(inner) == 1:
        f = inner[0][0]
        rest = dict(p)
        del rest[inner[0]]
        merged = _full_dict(f.num) if full else dict(f.num)
        _add_into(merged, rest, f.k)
        return _floordiv(merged, f.k * k, full)
    out: dict = {}
    rem: dict = {}
    c0 = p.get((), 0)
    for m, c in p.items():
        if m:
            q, r = divmod(c, k)
            if q:
                out[m] = q
            if r:
                rem[m] = r
    if not rem:
        if c0 // k:
            out[()] = out.get((), 0) + c0 // k
        return out
    g = gcd(k, *rem.values())
    if g > 1:  # floor((g X + c) / (g m)) == floor((X + c // g) / m) for integer X
        rem = {m: c // g for m, c in rem.items()}
        c0 //= g
        k //= g
    if full or c0 >= k:
        q, c0 = divmod(c0, k)
        if q:
            out[()] = out.get((), 0) + q
    if c0:
        rem[()] = c0
    atom = FloorDiv(_freeze(rem), k)
    key = (atom,)
    out[key] = out.get(key, 0) + 1
    return out


def _full_dict(frozen) -> dict:
    """A frozen polynomial in the full normal form (every floor's constant in 0..k-1)."""
    out: dict = {}
    for m, c in (frozen.items() if isinstance(frozen, dict) else frozen):
        if all(type(a) is str for a in m):
            _add_into(out, {m: c})
            continue
        prod = {(): c}
        for a in m:
            prod = _mul_poly(prod, {(a,): 1} if type(a) is str else a.full())
        _add_into(out, prod)
    return out


def _make(p: Optional[dict]) -> Dim:
    """The dim of a polynomial: int, plain symbol, SymExpr, or None beyond a cap."""
    if p is None:
        return None
    if not p:
        return 0
    if len(p) == 1:
        ((m, c),) = p.items()
        if not m:
            return c
        if c == 1 and len(m) == 1 and type(m[0]) is str:
            return m[0]
    frozen = _freeze(p)
    size = 0
    for m, c in frozen:
        if len(m) > MAX_DEGREE or not -_MAX_COEFF < c < _MAX_COEFF:
            return None
        size += 1
        for a in m:
            if type(a) is FloorDiv:
                if a.depth > MAX_DEPTH or a.big >= _MAX_COEFF:
                    return None
                size += a.size
    if size > MAX_SIZE:
        return None
    return SymExpr(frozen)


# ---- arithmetic on dims ----------------------------------------------------------------------------

def add(a: Dim, b: Dim) -> Dim:
    if type(a) is int and type(b) is int:
        return a + b
    p, q = _lift(a), _lift(b)
    if p is None or q is None:
        return None
    _add_into(p, q)
    return _make(p)


def sub(a: Dim, b: Dim) -> Dim:
    if type(a) is int and type(b) is int:
        return a - b
    p, q = _lift(a), _lift(b)
    if p is None or q is None:
        return None
    _add_into(p, q, -1)
    return _make(p)


def neg(a: Dim) -> Dim:
    return sub(0, a)


def mul(a: Dim, b: Dim) -> Dim:
    if type(a) is int and type(b) is int:
        return a * b
    p, q = _lift(a), _lift(b)
    if p is None or q is None:
        return None
    return _make(_mul_poly(p, q))


def floordiv(a: Dim, k) -> Dim:
    """a // k for a positive int k (anything else: None)."""
    if type(k) is not int or k < 1:
        return None
    if type(a) is int:
        return a // k
    p = _lift(a)
    if p is None:
        return None
    return _make(_floordiv(p, k, False))


def ceildiv(a: Dim, k) -> Dim:
    """ceil(a / k) = (a + k - 1) // k."""
    if type(a) is int and type(k) is int and k > 0:
        return -(-a // k)
    return floordiv(add(a, k - 1), k) if type(k) is int and k > 0 else None


def product(dims) -> Dim:
    out: Dim = 1
    for d in dims:
        out = mul(out, d)
        if out is None:
            return None
    return out


def total(dims) -> Dim:
    out: Dim = 0
    for d in dims:
        out = add(out, d)
        if out is None:
            return None
    return out


# ---- substitution and evaluation ---------------------------------------------------------------------

def symbols(d: Dim) -> set:
    """The symbols a dim depends on."""
    if type(d) is str:
        return {d}
    if type(d) is not SymExpr:
        return set()
    out: set = set()
    stack = [d.terms]
    while stack:
        for m, _ in stack.pop():
            for a in m:
                if type(a) is str:
                    out.add(a)
                else:
                    stack.append(a.num)
    return out


def _subst_poly(frozen, env: dict) -> Dim:
    result: Dim = 0
    for m, c in frozen:
        term: Dim = c
        for a in m:
            v = env.get(a, a) if type(a) is str else floordiv(_subst_poly(a.num, env), a.k)
            term = mul(term, v)
            if term is None:
                return None
        result = add(result, term)
        if result is None:
            return None
    return result


def substitute(d: Dim, env: dict) -> Dim:
    """Replace symbols by dims (ints, symbols or expressions) and normalise."""
    if type(d) is str:
        return env.get(d, d)
    if type(d) is SymExpr:
        return _subst_poly(d.terms, env)
    return d


def evaluate(d: Dim, env: dict) -> Dim:
    """The int value of d with env's symbol values, or d partially evaluated when some are missing."""
    return substitute(d, env)


# ---- comparison ----------------------------------------------------------------------------------------

EQUAL = "equal"
DIFFERENT = "different"
CONDITIONAL = "conditional"
UNKNOWN = "unknown"


def compare(a: Dim, b: Dim) -> tuple:
    """(verdict, condition): EQUAL, DIFFERENT, CONDITIONAL with a human condition text ("H is even"),
    or UNKNOWN when a dim is unknown."""
    if a is None or b is None:
        return UNKNOWN, None
    if a == b:
        return EQUAL, None
    if type(a) is int and type(b) is int:
        return DIFFERENT, None
    p, q = _lift(a), _lift(b)
    if p is None or q is None:
        return UNKNOWN, None
    diff = _full_dict(p)
    _add_into(diff, _full_dict(q), -1)
    if not diff:
        return EQUAL, None
    if len(diff) == 1 and () in diff:
        return DIFFERENT, None
    if diff.get((), 0) % gcd(*(c for m, c in diff.items() if m)):
        return DIFFERENT, None  # every atom is an integer: 4 * T never equals 6
    found = _remainder_condition(diff)
    if found is not None:
        return found
    return CONDITIONAL, f"{format_dim(a)} == {format_dim(b)}"


def _remainder_condition(diff: dict):
    """diff == s * (X % k) + c, X % k being X - k * (X // k): equal only when X % k == -c / s."""
    for m, cf in diff.items():
        if len(m) != 1 or type(m[0]) is not FloorDiv:
            continue
        f = m[0]
        g = gcd(f.k, cf)
        for k in sorted({g} | {j for j in range(2, min(g, 64) + 1) if g % j == 0}):
            if k < 2:
                continue
            s = -cf // k
            x = _floordiv(_full_dict(f.num), f.k // k, True)  # X with X // k == f
            rest = dict(diff)
            _add_into(rest, x, -s)
            _add_into(rest, {m: 1}, s * k)
            if rest and (len(rest) > 1 or () not in rest):
                continue
            c = rest.get((), 0)
            if c % s or not 0 <= -c // s < k:
                return DIFFERENT, None
            r = -c // s
            xs = format_dim(_make(x))
            if k == 2:
                return CONDITIONAL, f"{xs} is {'even' if r == 0 else 'odd'}"
            if r == 0:
                return CONDITIONAL, f"{xs} is a multiple of {k}"
            return CONDITIONAL, f"{_paren(xs)} % {k} == {r}"
    return None


def _paren(text: str) -> str:
    return f"({text})" if " " in text else text


# ---- text ------------------------------------------------------------------------------------------

def format_dim(d: Dim) -> str:
    return "?" if d is None else str(d)


def _fmt_atom(a, bare: bool) -> str:
    if type(a) is str:
        return a
    num = a.num
    inner = _fmt_poly(num)
    if not (len(num) == 1 and num[0][1] == 1 and len(num[0][0]) == 1 and type(num[0][0][0]) is str):
        inner = f"({inner})"
    text = f"{inner} // {a.k}"
    return text if bare else f"({text})"


def _fmt_term(m: tuple, c: int) -> str:
    """|c| * m, without its sign."""
    c = abs(c)
    if not m:
        return str(c)
    bare = len(m) == 1 and c == 1
    factors = [_fmt_atom(a, bare) for a in m]
    if c != 1:
        if type(m[0]) is str or len(m) > 1:
            factors.insert(0, str(c))  # 64 * H * W, 8 * (H // 2) * (W // 2)
        else:
            factors.append(str(c))  # (H // 2) * 2
    return " * ".join(factors)


def _fmt_factored(frozen):
    """`16 * (H - 2) * (W - 2)` for what Flatten makes of a padded-less conv, rather than its expansion
    `16 * H * W - 32 * H - 32 * W + 64`; None when the polynomial is not such a product. Text only:
    equality and hashing stay on the normal form."""
    if len(frozen) < 2:
        return None
    top, c = max(frozen, key=lambda mc: len(mc[0]))
    if len(top) < 2 or len(set(top)) != len(top) or sum(1 for m, _ in frozen if len(m) == len(top)) != 1:
        return None
    coeff = dict(frozen)
    factors = []
    for k, a in enumerate(top):
        rest = top[:k] + top[k + 1:]
        shift = coeff.get(rest, 0)
        if shift % c:
            return None
        factors.append((a, shift // c))
    expanded = {(): c}
    for a, shift in factors:
        expanded = _mul_poly(expanded, {(a,): 1, (): shift} if shift else {(a,): 1})
    if {m: v for m, v in expanded.items() if v} != coeff:
        return None
    parts = [_fmt_atom(a, False) if not shift else
             f"({_fmt_atom(a, True)} {'-' if shift < 0 else '+'} {abs(shift)})" for a, shift in factors]
    if c != 1:
        parts.insert(0, str(c) if c > 0 else f"-{abs(c)}")
    return " * ".join(parts)


def _fmt_poly(frozen) -> str:
    parts = []
    for i, (m, c) in enumerate(frozen):
        body = _fmt_term(m, c)
        if i == 0:
            if c < 0:
                # unary minus binds tighter than //: -(H // 2), not -H // 2
                body = f"-({body})" if len(m) == 1 and abs(c) == 1 and type(m[0]) is FloorDiv else f"-{body}"
            parts.append(body)
        else:
            parts.append((" - " if c < 0 else " + ") + body)
    return "".join(parts)
