//! Argument fuzzing of the consumer-group commands: random sequences of
//! group commands with arguments drawn from valid and invalid words each get
//! exactly one well-formed reply, never close the connection, and leave the
//! server answering. (BLOCK is left out: a blocked reply is not an answer.)

mod server_common;

use proptest::prelude::*;
use server_common::{Raw, TestServer};

const COMMANDS: &[&[&str]] = &[
    &["XGROUP", "CREATE"],
    &["XGROUP", "SETID"],
    &["XGROUP", "DESTROY"],
    &["XGROUP", "CREATECONSUMER"],
    &["XGROUP", "DELCONSUMER"],
    &["XGROUP", "SETPOLICY"],
    &["XGROUP", "GETPOLICY"],
    &["XGROUP", "EXPIRECONSUMER"],
    &["XREADGROUP", "GROUP"],
    &["XACK"],
    &["XPENDING"],
    &["XCLAIM"],
    &["XAUTOCLAIM"],
    &["XACKDEL"],
    &["XDELEX"],
    &["XINFO", "GROUPS"],
    &["XINFO", "CONSUMERS"],
    &["XINFO", "STREAM"],
    &["XADD"],
    &["XTRIM"],
    &["XDEL"],
];

const WORDS: &[&str] = &[
    "s",
    "t",
    "g",
    "h",
    "c",
    "d",
    "0",
    "$",
    ">",
    "-",
    "+",
    "(1-1",
    "1-1",
    "2-1",
    "5",
    "-1",
    "abc",
    "",
    "18446744073709551615-18446744073709551615",
    "9223372036854775807",
    "COUNT",
    "NOACK",
    "STREAMS",
    "IDLE",
    "TIME",
    "RETRYCOUNT",
    "FORCE",
    "JUSTID",
    "LASTID",
    "MKSTREAM",
    "ENTRIESREAD",
    "KEEPREF",
    "DELREF",
    "ACKED",
    "IDS",
    "MAXLEN",
    "MINID",
    "~",
    "*",
    "f",
    "v",
    "DEADLETTER",
    "MAXDELIVERIES",
    "NODEADLETTER",
    "CONSUMERIDLE",
    "NOCONSUMERIDLE",
    "FULL",
    "GROUP",
];

fn request() -> impl Strategy<Value = Vec<String>> {
    (
        0..COMMANDS.len(),
        prop::collection::vec(0..WORDS.len(), 0..9),
    )
        .prop_map(|(c, args)| {
            let mut v: Vec<String> = COMMANDS[c].iter().map(|s| (*s).to_owned()).collect();
            v.extend(args.into_iter().map(|i| WORDS[i].to_owned()));
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_group_commands_always_get_one_reply(
        script in prop::collection::vec(request(), 1..60)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(Box::pin(async {
            let server = TestServer::start(&[]).await;
            let mut c = Raw::connect(server.addr).await;
            // Some state to act on.
            c.call(b"XADD s 1-1 f v\r\nXADD s 2-1 f v\r\nXGROUP CREATE s g 0\r\n", 3).await;
            c.call(b"XREADGROUP GROUP g c STREAMS s >\r\n", 1).await;
            let mut batch = Vec::new();
            for req in &script {
                batch.extend(eddy::resp::Frame::command(req.iter().map(String::as_bytes)));
            }
            // One reply per request (read_frames fails on a close or a hang).
            let replies = Box::pin(c.call(&batch, script.len())).await;
            assert!(!replies.is_empty());
            assert_eq!(Box::pin(c.call(b"PING\r\n", 1)).await, b"+PONG\r\n");
            server.stop().await;
        }));
    }
}
