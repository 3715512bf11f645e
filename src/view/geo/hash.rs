//! Redis's geohash: the 52-bit interleaved score, its neighbours, the search
//! area estimate and the haversine distance (geohash.c, geohash_helper.c).
//!
//! Everything here is computed with the same operations in the same order
//! as Redis, so scores, decoded positions and distances are bit-identical
//! (the libm functions are the platform's, as for redis-server).

/// Bits per coordinate in a stored score (26 * 2 = 52 bits, exact in a double).
pub const GEO_STEP_MAX: u8 = 26;
/// Southern limit of the indexable area (Web Mercator).
pub const GEO_LAT_MIN: f64 = -85.05112878;
/// Northern limit of the indexable area.
pub const GEO_LAT_MAX: f64 = 85.05112878;
/// Western limit.
pub const GEO_LONG_MIN: f64 = -180.0;
/// Eastern limit.
pub const GEO_LONG_MAX: f64 = 180.0;
/// Earth's quadratic mean radius used by Redis.
pub const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

/// A geohash of `step` bits per coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashBits {
    /// Interleaved bits: latitude in even positions, longitude in odd ones.
    pub bits: u64,
    /// Bits per coordinate (0 means "no cell", used for pruned neighbours).
    pub step: u8,
}

/// A closed interval of degrees.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range {
    /// Lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
}

/// The cell a hash denotes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Area {
    /// Longitude extent.
    pub lon: Range,
    /// Latitude extent.
    pub lat: Range,
}

/// The nine cells a search scans, centre first, in Redis's order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SearchArea {
    /// Centre cell, N, S, E, W, NE, NW, SE, SW; pruned cells are zero.
    pub cells: [HashBits; 9],
}

/// The coordinate ranges of stored scores.
pub const WGS84_LON: Range = Range {
    min: GEO_LONG_MIN,
    max: GEO_LONG_MAX,
};
/// Latitude range of stored scores.
pub const WGS84_LAT: Range = Range {
    min: GEO_LAT_MIN,
    max: GEO_LAT_MAX,
};

fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Encodes a position with the given ranges; `None` outside the indexable area.
pub fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(GEO_LONG_MIN..=GEO_LONG_MAX).contains(&lon) || !(GEO_LAT_MIN..=GEO_LAT_MAX).contains(&lat)
    {
        return None;
    }
    if lon < lon_r.min || lon > lon_r.max || lat < lat_r.min || lat > lat_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    // C truncates with (uint32_t); the offsets are within [0, 2^32].
    let bits = spread(lat_off as u32) | (spread(lon_off as u32) << 1);
    Some(HashBits { bits, step })
}

/// Encodes a position at full precision with the stored-score ranges.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    encode(WGS84_LON, WGS84_LAT, lon, lat, step)
}

/// The cell of a hash.
pub fn decode(lon_r: Range, lat_r: Range, h: HashBits) -> Area {
    let ilat = f64::from(squash(h.bits));
    let ilon = f64::from(squash(h.bits >> 1));
    let div = (1u64 << h.step) as f64;
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    Area {
        lat: Range {
            min: lat_r.min + (ilat * 1.0 / div) * lat_scale,
            max: lat_r.min + ((ilat + 1.0) * 1.0 / div) * lat_scale,
        },
        lon: Range {
            min: lon_r.min + (ilon * 1.0 / div) * lon_scale,
            max: lon_r.min + ((ilon + 1.0) * 1.0 / div) * lon_scale,
        },
    }
}

/// Decodes a stored score to the centre of its cell, `[lon, lat]`.
pub fn decode_score(score: f64) -> [f64; 2] {
    // C casts the double to uint64_t; scores of geo members are integers.
    let h = HashBits {
        bits: score as u64,
        step: GEO_STEP_MAX,
    };
    let a = decode(WGS84_LON, WGS84_LAT, h);
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(GEO_LONG_MIN, GEO_LONG_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(GEO_LAT_MIN, GEO_LAT_MAX);
    [lon, lat]
}

/// The 52-bit score of a position (GEOADD), or `None` out of range.
pub fn score_of(lon: f64, lat: f64) -> Option<f64> {
    encode_wgs84(lon, lat, GEO_STEP_MAX).map(|h| align52(h) as f64)
}

/// Left-aligns a hash to 52 bits.
pub fn align52(h: HashBits) -> u64 {
    h.bits << (52 - u32::from(h.step) * 2)
}

fn move_x(h: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(h.step) * 2;
    let mut x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    h.bits = x | y;
}

fn move_y(h: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(h.step) * 2;
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    h.bits = x | y;
}

fn moved(h: HashBits, dx: i8, dy: i8) -> HashBits {
    let mut n = h;
    move_x(&mut n, dx);
    move_y(&mut n, dy);
    n
}

/// Degrees to radians exactly as Redis computes it.
fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// Great-circle distance in metres (haversine, Redis 7.0 form).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lat1r = deg_rad(lat1);
    let lon1r = deg_rad(lon1);
    let lat2r = deg_rad(lat2);
    let lon2r = deg_rad(lon2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let v = ((lon2r - lon1r) / 2.0).sin();
    2.0 * EARTH_RADIUS_IN_METERS * (u * u + lat1r.cos() * lat2r.cos() * v * v).sqrt().asin()
}

/// Step of the nine-cell search for a radius at a latitude.
pub fn estimate_steps_by_radius(range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut r = range_meters;
    let mut step: i32 = 1;
    while r < MERCATOR_MAX {
        r *= 2.0;
        step += 1;
    }
    step -= 2; // make sure the range is included in most of the base cases
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// Half extents of a search shape in metres: `(half_width, half_height, radius_for_steps)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapeMeters {
    /// Half the box width, or the radius.
    pub half_width: f64,
    /// Half the box height, or the radius.
    pub half_height: f64,
    /// Radius used to pick the cell size (the box's half diagonal).
    pub radius: f64,
}

/// `[min_lon, min_lat, max_lon, max_lat]` of the area a shape can reach.
pub fn bounding_box(lon: f64, lat: f64, s: ShapeMeters) -> [f64; 4] {
    let lat_delta = rad_deg(s.half_height / EARTH_RADIUS_IN_METERS);
    let top = rad_deg(s.half_width / EARTH_RADIUS_IN_METERS / deg_rad(lat + lat_delta).cos());
    let bottom = rad_deg(s.half_width / EARTH_RADIUS_IN_METERS / deg_rad(lat - lat_delta).cos());
    // The trapezoid is widest on the side nearer the pole.
    let south = lat < 0.0;
    let w = if south { bottom } else { top };
    [lon - w, lat - lat_delta, lon + w, lat + lat_delta]
}

/// The centre cell and neighbours to scan (`geohashCalculateAreasByShapeWGS84`).
pub fn search_area(lon: f64, lat: f64, s: ShapeMeters) -> SearchArea {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(lon, lat, s);
    let mut steps = estimate_steps_by_radius(s.radius, lat);
    let cells = |steps: u8| -> Option<(HashBits, [HashBits; 8], Area)> {
        let h = encode(WGS84_LON, WGS84_LAT, lon, lat, steps)?;
        // north, south, east, west, north_east, north_west, south_east, south_west
        let n = [
            moved(h, 0, 1),
            moved(h, 0, -1),
            moved(h, 1, 0),
            moved(h, -1, 0),
            moved(h, 1, 1),
            moved(h, -1, 1),
            moved(h, 1, -1),
            moved(h, -1, -1),
        ];
        Some((h, n, decode(WGS84_LON, WGS84_LAT, h)))
    };
    let Some((mut hash, mut nb, mut area)) = cells(steps) else {
        return SearchArea::default();
    };
    let north = decode(WGS84_LON, WGS84_LAT, nb[0]);
    let south = decode(WGS84_LON, WGS84_LAT, nb[1]);
    let east = decode(WGS84_LON, WGS84_LAT, nb[2]);
    let west = decode(WGS84_LON, WGS84_LAT, nb[3]);
    let decrease = north.lat.max < max_lat
        || south.lat.min > min_lat
        || east.lon.max < max_lon
        || west.lon.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        if let Some(c) = cells(steps) {
            (hash, nb, area) = c;
        }
    }
    if steps >= 2 {
        let zero = HashBits::default();
        if area.lat.min < min_lat {
            nb[1] = zero;
            nb[7] = zero;
            nb[6] = zero;
        }
        if area.lat.max > max_lat {
            nb[0] = zero;
            nb[4] = zero;
            nb[5] = zero;
        }
        if area.lon.min < min_lon {
            nb[3] = zero;
            nb[7] = zero;
            nb[5] = zero;
        }
        if area.lon.max > max_lon {
            nb[2] = zero;
            nb[6] = zero;
            nb[4] = zero;
        }
    }
    let mut all = [HashBits::default(); 9];
    all[0] = hash;
    all[1..].copy_from_slice(&nb);
    SearchArea { cells: all }
}

/// The 11-character GEOHASH string of a stored score (re-encoded with the
/// standard latitude range -90..90; the 11th character is always '0').
pub fn geohash_string(score: f64) -> Option<String> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let [lon, lat] = decode_score(score);
    let h = encode(
        WGS84_LON,
        Range {
            min: -90.0,
            max: 90.0,
        },
        lon,
        lat,
        26,
    )?;
    let mut s = String::with_capacity(11);
    for i in 0..11 {
        let idx = if i == 10 {
            0
        } else {
            ((h.bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
        };
        s.push(char::from(ALPHABET[idx]));
    }
    Some(s)
}
