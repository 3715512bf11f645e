//! Protocol fuzzing with proptest: random and mutated RESP input never
//! panics the readers, and never takes the server down.

mod server_common;

use std::io::Cursor;

use eddy::resp::Frame;
use eddy::resp::request::{self, Checked, ProtocolError, Request, RequestLimits};
use proptest::prelude::*;
use server_common::{Raw, TestServer};

/// Valid requests to start mutations from.
fn seeds() -> Vec<Vec<u8>> {
    vec![
        Frame::command(["SET", "key", "value"]),
        Frame::command(["ECHO", ""]),
        b"PING\r\n".to_vec(),
        b"ECHO \"a\\x41 b\" 'c\\'d'\r\n".to_vec(),
        b"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
    ]
}

/// A seed with a few bytes changed, inserted or removed.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0..seeds().len(),
        prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
    )
        .prop_map(|(i, edits)| {
            let mut v = seeds()[i].clone();
            for (pos, byte, op) in edits {
                let at = if v.is_empty() { 0 } else { pos % (v.len() + 1) };
                match op {
                    0 if at < v.len() => v[at] = byte,
                    1 => v.insert(at, byte),
                    _ if at < v.len() => {
                        v.remove(at);
                    }
                    _ => v.push(byte),
                }
            }
            v
        })
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..300), mutated()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn request_reader_never_panics_and_check_agrees_with_parse(data in input()) {
        let limits = RequestLimits::default();
        let mut req = Request::default();
        let mut rest = &data[..];
        // Read requests until the input is used up, incomplete or invalid.
        for _ in 0..64 {
            match request::check(rest, &limits) {
                Ok(Checked::Incomplete) => break,
                Ok(Checked::Complete(n)) => {
                    prop_assert!(n > 0 && n <= rest.len());
                    match request::parse(rest, &limits, &mut req) {
                        Ok(c) => prop_assert_eq!(c, Checked::Complete(n)),
                        Err(e) => prop_assert_eq!(e, ProtocolError::UnbalancedQuotes),
                    }
                    rest = &rest[n..];
                }
                Err(e) => {
                    prop_assert_eq!(request::parse(rest, &limits, &mut req), Err(e));
                    break;
                }
            }
        }
    }

    #[test]
    fn frame_reader_never_panics(data in input()) {
        let mut c = Cursor::new(&data[..]);
        if Frame::check(&mut c).is_ok() {
            let end = c.position();
            c.set_position(0);
            let frame = Frame::parse(&mut c);
            prop_assert!(frame.is_ok());
            prop_assert_eq!(c.position(), end);
        }
    }

    #[test]
    fn any_prefix_of_a_valid_request_is_incomplete(cut in 0usize..40) {
        let full = Frame::command(["XADD", "s", "*", "f", "v"]);
        let cut = cut.min(full.len() - 1);
        prop_assert_eq!(request::check(&full[..cut], &RequestLimits::default()), Ok(Checked::Incomplete));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn garbage_never_takes_the_server_down(chunks in prop::collection::vec(input(), 1..4)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let server = TestServer::start(&[]).await;
            let mut bad = Raw::connect(server.addr).await;
            for chunk in &chunks {
                // The server may already have closed the connection.
                let _ = tokio::io::AsyncWriteExt::write_all(&mut bad.stream, chunk).await;
            }
            drop(bad);
            let mut good = Raw::connect(server.addr).await;
            assert_eq!(good.call(b"PING\r\n", 1).await, b"+PONG\r\n");
            server.stop().await;
        });
    }
}
