//! Errors of the view query commands and of view definitions.
//!
//! Each `Display` is exactly the error line Redis sends, without the leading
//! '-', so the server writes `-{err}\r\n` and clients see Redis's text.

use thiserror::Error;

/// A query command's argument error, with Redis's exact wording.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CmdError {
    /// Generic option error.
    #[error("ERR syntax error")]
    Syntax,
    /// Too few / too many arguments; holds the command name in lower case.
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(String),
    /// An integer argument that `string2ll` refuses.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// A double argument that `getDoubleFromObject` refuses.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// A score range bound that does not parse.
    #[error("ERR min or max is not a float")]
    MinMaxNotFloat,
    /// A lexicographic range bound without `[`/`(` or not `-`/`+`.
    #[error("ERR min or max not valid string range item")]
    LexRangeItem,
    /// LIMIT given to a rank range.
    #[error(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    )]
    LimitWithRank,
    /// WITHSCORES given to a lexicographic range.
    #[error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")]
    WithscoresWithLex,
    /// An increment that produces NaN (`+inf` plus `-inf`).
    #[error("ERR resulting score is not a number (NaN)")]
    ScoreNan,
    /// Coordinates outside the indexable area (`%f,%f`).
    #[error("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}")]
    InvalidLonLat {
        /// Longitude as given.
        lon: f64,
        /// Latitude as given.
        lat: f64,
    },
    /// Unit other than m, km, ft, mi.
    #[error("ERR unsupported unit provided. please use M, KM, FT, MI")]
    Unit,
    /// Non numeric BYRADIUS / GEORADIUS radius.
    #[error("ERR need numeric radius")]
    NeedNumericRadius,
    /// Non numeric BYBOX width.
    #[error("ERR need numeric width")]
    NeedNumericWidth,
    /// Non numeric BYBOX height.
    #[error("ERR need numeric height")]
    NeedNumericHeight,
    /// Negative radius.
    #[error("ERR radius cannot be negative")]
    NegativeRadius,
    /// Negative box side.
    #[error("ERR height or width cannot be negative")]
    NegativeBox,
    /// COUNT 0 or negative.
    #[error("ERR COUNT must be > 0")]
    CountNotPositive,
    /// ANY without COUNT.
    #[error("ERR the ANY argument requires COUNT argument")]
    AnyWithoutCount,
    /// GEOSEARCH without (or with both) FROMMEMBER/FROMLONLAT; holds the command name as typed.
    #[error("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {0}")]
    NeedOneFrom(String),
    /// GEOSEARCH without (or with both) BYRADIUS/BYBOX; holds the command name as typed.
    #[error("ERR exactly one of BYRADIUS and BYBOX can be specified for {0}")]
    NeedOneBy(String),
    /// FROMMEMBER / GEORADIUSBYMEMBER member absent from the key.
    #[error("ERR could not decode requested zset member")]
    MemberNotFound,
    /// GEORADIUS STORE combined with WITH* options.
    #[error(
        "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    )]
    StoreWithOptions,
    /// GEORADIUS[BYMEMBER] STORE/STOREDIST: refused, since the target
    /// would be a key that no view derives from a stream. Holds the command
    /// and option as typed (upper-cased) and the target key (lossy, cut).
    #[error(
        "ERR {cmd} {option} is not supported: it would write '{key}', which no view derives from a stream (eddy keys are streams and the views over them); run the query without {option}"
    )]
    StoreRefused {
        /// GEORADIUS or GEORADIUSBYMEMBER.
        cmd: String,
        /// STORE or STOREDIST.
        option: String,
        /// The key it would write.
        key: String,
    },
    /// A VIEW.* definition error (our own command family).
    #[error("ERR {0}")]
    View(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lonlat_error_uses_six_decimals() {
        let e = CmdError::InvalidLonLat {
            lon: 200.0,
            lat: 100.0,
        };
        assert_eq!(
            e.to_string(),
            "ERR invalid longitude,latitude pair 200.000000,100.000000"
        );
        assert_eq!(
            CmdError::StoreRefused {
                cmd: "GEORADIUS".into(),
                option: "STOREDIST".into(),
                key: "near".into()
            }
            .to_string(),
            "ERR GEORADIUS STOREDIST is not supported: it would write 'near', which no view \
             derives from a stream (eddy keys are streams and the views over them); run the \
             query without STOREDIST"
        );
        assert_eq!(
            CmdError::NeedOneBy("geosearch".into()).to_string(),
            "ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch"
        );
    }
}
