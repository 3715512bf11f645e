//! Geo indexes: positions stored in a [`ZSet`] as Redis's 52-bit geohash
//! scores, and the GEO* read commands over them.
//!
//! Owns: encoding/decoding ([`hash`]), GEOSEARCH / `GEORADIUS[BYMEMBER][_RO]`
//! argument parsing with Redis's errors and its nine-cell search
//! ([`GeoQuery`]), GEOPOS, GEODIST and GEOHASH parsing and evaluation.
//! Does not own: key lookup and type checks (the caller passes the key's
//! `ZSet`, or `None` when the key does not exist) nor RESP replies (the
//! caller formats [`GeoHit`] with [`crate::view::num`]).

pub mod hash;
mod query;

#[cfg(test)]
mod tests;

pub use query::{
    GeoCmd, GeoDistQuery, GeoMembersQuery, GeoQuery, ShapeQuery, Sort, Unit, parse_geodist,
    parse_geohash, parse_geopos, parse_geosearch,
};

use crate::view::CmdError;
use crate::view::zset::ZSet;
use hash::{ShapeMeters, decode_score, distance, search_area};

/// The score a GEOADD of `lon lat` stores, or Redis's out-of-range error.
pub fn geo_score(lon: f64, lat: f64) -> Result<f64, CmdError> {
    hash::score_of(lon, lat).ok_or(CmdError::InvalidLonLat { lon, lat })
}

/// Validates a coordinate pair as `extractLongLatOrReply` does.
pub fn check_lon_lat(lon: f64, lat: f64) -> Result<[f64; 2], CmdError> {
    if !(hash::GEO_LONG_MIN..=hash::GEO_LONG_MAX).contains(&lon)
        || !(hash::GEO_LAT_MIN..=hash::GEO_LAT_MAX).contains(&lat)
    {
        return Err(CmdError::InvalidLonLat { lon, lat });
    }
    Ok([lon, lat])
}

/// GEOPOS of one member: the decoded `[lon, lat]` (cell centre).
pub fn position(z: &ZSet, member: &[u8]) -> Option<[f64; 2]> {
    z.score(member).map(decode_score)
}

/// GEODIST in metres between two members.
pub fn member_distance(z: &ZSet, a: &[u8], b: &[u8]) -> Option<f64> {
    let [x1, y1] = position(z, a)?;
    let [x2, y2] = position(z, b)?;
    Some(distance(x1, y1, x2, y2))
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoHit {
    /// Member name.
    pub member: Vec<u8>,
    /// Decoded longitude (cell centre).
    pub lon: f64,
    /// Decoded latitude.
    pub lat: f64,
    /// Distance from the centre, in the query's unit.
    pub dist: f64,
    /// The raw 52-bit score (WITHHASH).
    pub hash: u64,
}

/// The searched shape, in the query's unit (Redis keeps the unit and the
/// conversion factor apart and multiplies at each use; so does this).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// Circle of this radius.
    Radius(f64),
    /// Axis-aligned box of this width and height.
    Box {
        /// East-west side.
        width: f64,
        /// North-south side.
        height: f64,
    },
}

impl Shape {
    fn meters(self, conv: f64) -> ShapeMeters {
        match self {
            Shape::Radius(r) => ShapeMeters {
                half_width: conv * r,
                half_height: conv * r,
                radius: r * conv,
            },
            Shape::Box { width, height } => ShapeMeters {
                half_width: conv * width / 2.0,
                half_height: conv * height / 2.0,
                radius: ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
                    * conv,
            },
        }
    }

    /// Distance from the centre in metres if the point is inside (`geoWithinShape`).
    fn contains(self, conv: f64, c: [f64; 2], p: [f64; 2]) -> Option<f64> {
        match self {
            Shape::Radius(r) => {
                let d = distance(c[0], c[1], p[0], p[1]);
                (d <= r * conv).then_some(d)
            }
            Shape::Box { width, height } => {
                let (w, h) = (width * conv, height * conv);
                let lon_d = distance(p[0], p[1], c[0], p[1]);
                let lat_d = distance(p[0], p[1], p[0], c[1]);
                if lon_d > w / 2.0 || lat_d > h / 2.0 {
                    return None;
                }
                Some(distance(c[0], c[1], p[0], p[1]))
            }
        }
    }
}

/// Members of `z` inside `shape` (in units of `conv` metres) around
/// `center`, in scan order, distances in metres. `limit` > 0 stops after that many hits (COUNT n ANY).
pub fn search(z: &ZSet, center: [f64; 2], shape: Shape, conv: f64, limit: usize) -> Vec<GeoHit> {
    let area = search_area(center[0], center[1], shape.meters(conv));
    let mut out = Vec::new();
    // Index of the last scanned cell; 0 (the centre) never counts as a
    // repeat, exactly as in Redis's membersOfAllNeighbors.
    let mut last = 0usize;
    for (i, cell) in area.cells.iter().enumerate() {
        if cell.bits == 0 && cell.step == 0 {
            continue;
        }
        // Huge radii can make adjacent neighbours equal: skip repeats.
        if last != 0 && area.cells[last] == *cell {
            continue;
        }
        if !out.is_empty() && limit > 0 && out.len() >= limit {
            break;
        }
        let min = hash::align52(*cell) as f64;
        let max = hash::align52(hash::HashBits {
            bits: cell.bits + 1,
            step: cell.step,
        }) as f64;
        for e in z.scores_in(min, max) {
            let s = e.score;
            let p = decode_score(s);
            if let Some(d) = shape.contains(conv, center, p) {
                out.push(GeoHit {
                    member: e.member().to_vec(),
                    lon: p[0],
                    lat: p[1],
                    dist: d,
                    hash: s as u64,
                });
            }
            if !out.is_empty() && limit > 0 && out.len() >= limit {
                break;
            }
        }
        last = i;
    }
    out
}
