//! GEO* read command parsing, as `georadiusGeneric` and friends do it.
//!
//! Redis resolves FROMMEMBER / GEORADIUSBYMEMBER while it parses (so a
//! missing member is reported before later syntax errors) and skips member
//! lookups when the key does not exist; the parser therefore takes the key's
//! set (`None` when absent) and returns a query with the centre resolved.

use super::{GeoHit, Shape, check_lon_lat, position, search};
use crate::view::CmdError;
use crate::view::num::{parse_i64, parse_strict_double};
use crate::view::zset::ZSet;

/// Distance units (case-insensitive since Redis 7.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Metres.
    M,
    /// Kilometres.
    Km,
    /// Feet.
    Ft,
    /// Miles.
    Mi,
}

impl Unit {
    /// Parses `m`, `km`, `ft`, `mi`.
    pub fn parse(a: &[u8]) -> Result<Unit, CmdError> {
        let l = a.to_ascii_lowercase();
        Ok(match l.as_slice() {
            b"m" => Unit::M,
            b"km" => Unit::Km,
            b"ft" => Unit::Ft,
            b"mi" => Unit::Mi,
            _ => return Err(CmdError::Unit),
        })
    }

    /// Metres per unit.
    pub fn to_meters(self) -> f64 {
        match self {
            Unit::M => 1.0,
            Unit::Km => 1000.0,
            Unit::Ft => 0.3048,
            Unit::Mi => 1609.34,
        }
    }
}

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Scan order (unspecified).
    None,
    /// Nearest first.
    Asc,
    /// Farthest first.
    Desc,
}

/// Which command is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoCmd {
    /// `GEOSEARCH key FROMMEMBER|FROMLONLAT BYRADIUS|BYBOX ..`.
    GeoSearch,
    /// `GEORADIUS key lon lat radius unit ... [STORE|STOREDIST key]`
    GeoRadius,
    /// GEORADIUS_RO (no STORE).
    GeoRadiusRo,
    /// `GEORADIUSBYMEMBER key member radius unit ..`.
    GeoRadiusByMember,
    /// GEORADIUSBYMEMBER_RO.
    GeoRadiusByMemberRo,
}

impl GeoCmd {
    /// Recognises a command name (any case).
    pub fn from_name(name: &[u8]) -> Option<GeoCmd> {
        Some(match name.to_ascii_lowercase().as_slice() {
            b"geosearch" => GeoCmd::GeoSearch,
            b"georadius" => GeoCmd::GeoRadius,
            b"georadius_ro" => GeoCmd::GeoRadiusRo,
            b"georadiusbymember" => GeoCmd::GeoRadiusByMember,
            b"georadiusbymember_ro" => GeoCmd::GeoRadiusByMemberRo,
            _ => return None,
        })
    }

    fn min_args(self) -> usize {
        match self {
            GeoCmd::GeoSearch => 7,
            GeoCmd::GeoRadius | GeoCmd::GeoRadiusRo => 6,
            GeoCmd::GeoRadiusByMember | GeoCmd::GeoRadiusByMemberRo => 5,
        }
    }
}

/// The search part of a geo query.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeQuery {
    /// Centre `[lon, lat]`.
    pub center: [f64; 2],
    /// Shape in `unit`.
    pub shape: Shape,
    /// Unit of the shape and of the reported distances.
    pub unit: Unit,
}

/// A parsed GEOSEARCH / GEORADIUS* query.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoQuery {
    /// Source key.
    pub key: Vec<u8>,
    /// `None` when the key does not exist (the reply is then empty).
    pub search: Option<ShapeQuery>,
    /// Ordering.
    pub sort: Sort,
    /// COUNT (0 = unlimited).
    pub count: usize,
    /// COUNT n ANY: stop scanning after n hits.
    pub any: bool,
    /// WITHCOORD.
    pub withcoord: bool,
    /// WITHDIST.
    pub withdist: bool,
    /// WITHHASH.
    pub withhash: bool,
    /// GEORADIUS STORE / STOREDIST target: `(key, store_distances)`.
    pub store: Option<(Vec<u8>, bool)>,
}

impl GeoQuery {
    /// Runs the query on the key's set (pass the same set the parser saw).
    /// Distances in the result are in the query's unit.
    pub fn run(&self, z: Option<&ZSet>) -> Vec<GeoHit> {
        let (Some(z), Some(sq)) = (z, &self.search) else {
            return Vec::new();
        };
        let conv = sq.unit.to_meters();
        let mut hits = search(
            z,
            sq.center,
            sq.shape,
            conv,
            if self.any { self.count } else { 0 },
        );
        let mut sort = self.sort;
        // COUNT without an order means "the nearest N" (not with ANY).
        if self.count != 0 && sort == Sort::None && !self.any {
            sort = Sort::Asc;
        }
        match sort {
            Sort::Asc => hits.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
            Sort::Desc => hits.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
            Sort::None => {}
        }
        if self.count != 0 {
            hits.truncate(self.count);
        }
        for h in &mut hits {
            h.dist /= conv;
        }
        hits
    }
}

fn arity(argv: &[&[u8]]) -> CmdError {
    CmdError::Arity(
        argv.first()
            .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
            .unwrap_or_default(),
    )
}

fn eq(a: &[u8], kw: &str) -> bool {
    a.eq_ignore_ascii_case(kw.as_bytes())
}

fn lon_lat(a: &[u8], b: &[u8]) -> Result<[f64; 2], CmdError> {
    let lon = parse_strict_double(a).ok_or(CmdError::NotFloat)?;
    let lat = parse_strict_double(b).ok_or(CmdError::NotFloat)?;
    check_lon_lat(lon, lat)
}

fn radius(r: &[u8], u: &[u8]) -> Result<(Shape, Unit), CmdError> {
    let r = parse_strict_double(r).ok_or(CmdError::NeedNumericRadius)?;
    if r < 0.0 {
        return Err(CmdError::NegativeRadius);
    }
    Ok((Shape::Radius(r), Unit::parse(u)?))
}

fn boxed(w: &[u8], h: &[u8], u: &[u8]) -> Result<(Shape, Unit), CmdError> {
    let w = parse_strict_double(w).ok_or(CmdError::NeedNumericWidth)?;
    let h = parse_strict_double(h).ok_or(CmdError::NeedNumericHeight)?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::NegativeBox);
    }
    Ok((
        Shape::Box {
            width: w,
            height: h,
        },
        Unit::parse(u)?,
    ))
}

/// Parses GEOSEARCH and the GEORADIUS family; `z` is the key's set or `None`.
pub fn parse_geosearch(
    cmd: GeoCmd,
    argv: &[&[u8]],
    z: Option<&ZSet>,
) -> Result<GeoQuery, CmdError> {
    if argv.len() < cmd.min_args() {
        return Err(arity(argv));
    }
    let mut center: Option<[f64; 2]> = None;
    let mut shape: Option<(Shape, Unit)> = None;
    let base = match cmd {
        GeoCmd::GeoRadius | GeoCmd::GeoRadiusRo => {
            center = Some(lon_lat(argv[2], argv[3])?);
            shape = Some(radius(argv[4], argv[5])?);
            6
        }
        GeoCmd::GeoRadiusByMember | GeoCmd::GeoRadiusByMemberRo => {
            if let Some(z) = z {
                center = Some(position(z, argv[2]).ok_or(CmdError::MemberNotFound)?);
                shape = Some(radius(argv[3], argv[4])?);
            }
            5
        }
        GeoCmd::GeoSearch => 2,
    };
    let search = cmd == GeoCmd::GeoSearch;
    let nostore = matches!(cmd, GeoCmd::GeoRadiusRo | GeoCmd::GeoRadiusByMemberRo);
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let mut store: Option<(Vec<u8>, bool)> = None;
    let rest = &argv[base..];
    let mut i = 0;
    while i < rest.len() {
        let a = rest[i];
        let left = rest.len() - i - 1;
        if eq(a, "withdist") {
            withdist = true;
        } else if eq(a, "withhash") {
            withhash = true;
        } else if eq(a, "withcoord") {
            withcoord = true;
        } else if eq(a, "any") {
            any = true;
        } else if eq(a, "asc") {
            sort = Sort::Asc;
        } else if eq(a, "desc") {
            sort = Sort::Desc;
        } else if eq(a, "count") && left >= 1 {
            count = parse_i64(rest[i + 1]).ok_or(CmdError::NotInteger)?;
            if count <= 0 {
                return Err(CmdError::CountNotPositive);
            }
            i += 1;
        } else if (eq(a, "store") || eq(a, "storedist")) && left >= 1 && !nostore && !search {
            store = Some((rest[i + 1].to_vec(), eq(a, "storedist")));
            i += 1;
        } else if eq(a, "frommember") && left >= 1 && search && !fromloc {
            if let Some(z) = z {
                center = Some(position(z, rest[i + 1]).ok_or(CmdError::MemberNotFound)?);
            }
            frommember = true;
            i += 1;
        } else if eq(a, "fromlonlat") && left >= 2 && search && !frommember {
            center = Some(lon_lat(rest[i + 1], rest[i + 2])?);
            fromloc = true;
            i += 2;
        } else if eq(a, "byradius") && left >= 2 && search && !bybox {
            shape = Some(radius(rest[i + 1], rest[i + 2])?);
            byradius = true;
            i += 2;
        } else if eq(a, "bybox") && left >= 3 && search && !byradius {
            shape = Some(boxed(rest[i + 1], rest[i + 2], rest[i + 3])?);
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        return Err(CmdError::StoreWithOptions);
    }
    let typed = || String::from_utf8_lossy(argv[0]).into_owned();
    if search && !(frommember || fromloc) {
        return Err(CmdError::NeedOneFrom(typed()));
    }
    if search && !(byradius || bybox) {
        return Err(CmdError::NeedOneBy(typed()));
    }
    if any && count == 0 {
        return Err(CmdError::AnyWithoutCount);
    }
    let search = match (z, center, shape) {
        (Some(_), Some(center), Some((shape, unit))) => Some(ShapeQuery {
            center,
            shape,
            unit,
        }),
        _ => None,
    };
    Ok(GeoQuery {
        key: argv[1].to_vec(),
        search,
        sort,
        count: usize::try_from(count).unwrap_or(usize::MAX),
        any,
        withcoord,
        withdist,
        withhash,
        store,
    })
}

/// `GEODIST key m1 m2 [unit]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoDistQuery {
    /// Key.
    pub key: Vec<u8>,
    /// First member.
    pub a: Vec<u8>,
    /// Second member.
    pub b: Vec<u8>,
    /// Reply unit (default metres).
    pub unit: Unit,
}

impl GeoDistQuery {
    /// The distance in the query's unit, or `None` (nil) if a member is missing.
    pub fn run(&self, z: Option<&ZSet>) -> Option<f64> {
        super::member_distance(z?, &self.a, &self.b).map(|d| d / self.unit.to_meters())
    }
}

/// Parses GEODIST.
pub fn parse_geodist(argv: &[&[u8]]) -> Result<GeoDistQuery, CmdError> {
    if argv.len() < 4 {
        return Err(arity(argv));
    }
    let unit = match argv.len() {
        4 => Unit::M,
        5 => Unit::parse(argv[4])?,
        _ => return Err(CmdError::Syntax),
    };
    Ok(GeoDistQuery {
        key: argv[1].to_vec(),
        a: argv[2].to_vec(),
        b: argv[3].to_vec(),
        unit,
    })
}

/// `GEOPOS / GEOHASH key member [member ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoMembersQuery {
    /// Key.
    pub key: Vec<u8>,
    /// Members, in request order (possibly none).
    pub members: Vec<Vec<u8>>,
}

impl GeoMembersQuery {
    /// GEOPOS: `[lon, lat]` per member, `None` for a missing one.
    pub fn positions(&self, z: Option<&ZSet>) -> Vec<Option<[f64; 2]>> {
        self.members
            .iter()
            .map(|m| z.and_then(|z| position(z, m)))
            .collect()
    }

    /// GEOHASH: the 11-character string per member, `None` for a missing one.
    pub fn hashes(&self, z: Option<&ZSet>) -> Vec<Option<String>> {
        self.members
            .iter()
            .map(|m| {
                z.and_then(|z| z.score(m))
                    .and_then(super::hash::geohash_string)
            })
            .collect()
    }
}

fn parse_members(argv: &[&[u8]]) -> Result<GeoMembersQuery, CmdError> {
    if argv.len() < 2 {
        return Err(arity(argv));
    }
    Ok(GeoMembersQuery {
        key: argv[1].to_vec(),
        members: argv[2..].iter().map(|m| m.to_vec()).collect(),
    })
}

/// Parses GEOPOS.
pub fn parse_geopos(argv: &[&[u8]]) -> Result<GeoMembersQuery, CmdError> {
    parse_members(argv)
}

/// Parses GEOHASH.
pub fn parse_geohash(argv: &[&[u8]]) -> Result<GeoMembersQuery, CmdError> {
    parse_members(argv)
}
