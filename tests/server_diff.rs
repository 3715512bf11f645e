//! Differential tests: the same request scripts against eddy and a real
//! redis-server 7.0, comparing the reply bytes. Skipped, with the reason
//! printed, when `redis-server` is not on PATH.
//!
//! Each script ends with `ECHO __end__` so the reader knows where the
//! replies end; scripts that make the server close the connection end with
//! `<CLOSED>` instead.

mod server_common;

use std::net::SocketAddr;

use server_common::{TestServer, run_script, start_redis};

const MARKER: &[u8] = b"$7\r\n__end__\r\n";

/// Scripts whose replies must be identical byte for byte.
const SCRIPTS: &[&str] = &[
    // Connection commands.
    "PING\r\nPING hello\r\nPING a b\r\nping\r\n",
    "ECHO\r\nECHO a b\r\nECHO \"\"\r\necho x\r\n",
    "SELECT 0\r\nSELECT x\r\nSELECT -1\r\nSELECT 99999\r\nSELECT\r\n",
    "AUTH x\r\nAUTH a b\r\nAUTH a b c\r\nAUTH\r\n",
    "HELLO 4\r\nHELLO x\r\nHELLO 1\r\nHELLO 2 foo\r\nHELLO 3 SETNAME \"a b\"\r\n",
    "QUIT\r\nPING\r\n",
    // Unknown commands and arity.
    "foo\r\nfoo a b\r\nFOO 'x y'\r\n",
    "*3\r\n$3\r\nfoo\r\n$200\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n$1\r\nb\r\n",
    "CONFIG\r\nCLIENT\r\nCONFIG FOO\r\nCLIENT foo bar\r\nCOMMAND FOO\r\nCONFIG GET\r\n",
    // Transactions.
    "MULTI\r\nMULTI\r\nPING\r\nEXEC\r\n",
    "MULTI\r\nfoo\r\nPING\r\nEXEC\r\nPING\r\n",
    "EXEC\r\nDISCARD\r\nMULTI\r\nPING a b c\r\nEXEC\r\n",
    "MULTI\r\nECHO\r\nEXEC\r\nMULTI\r\nDISCARD\r\nDISCARD\r\n",
    "MULTI\r\nSHUTDOWN\r\nEXEC\r\n",
    "MULTI\r\nPING\r\nECHO x\r\nCLIENT SETNAME t\r\nCLIENT GETNAME\r\nEXEC\r\n",
    // CLIENT.
    "CLIENT SETNAME \"a b\"\r\nCLIENT GETNAME\r\nCLIENT SETNAME x\r\nCLIENT GETNAME\r\nCLIENT SETNAME\r\n",
    "CLIENT LIST TYPE bogus\r\nCLIENT LIST TYPE master\r\nCLIENT LIST ID abc\r\nCLIENT LIST foo\r\n",
    // CONFIG.
    "CONFIG GET maxmemory\r\nCONFIG GET maxmemory-policy\r\nCONFIG GET maxmemory-samples\r\n",
    "CONFIG GET stream-node-max-entries\r\nCONFIG GET stream-node-max-bytes\r\nCONFIG GET timeout\r\n",
    "CONFIG GET proto-max-bulk-len\r\nCONFIG GET client-query-buffer-limit\r\nCONFIG GET loglevel\r\n",
    "CONFIG GET logfile\r\nCONFIG GET requirepass\r\nCONFIG GET appendfsync\r\nCONFIG GET databases\r\n",
    "CONFIG GET nosuchthing\r\nCONFIG GET MAXMEMORY\r\n",
    "CONFIG SET a\r\nCONFIG SET maxmemory 1 port\r\nCONFIG SET foo 1\r\n",
    "CONFIG SET maxmemory abc\r\nCONFIG SET maxmemory -1\r\nCONFIG SET maxmemory 1.5gb\r\n",
    "CONFIG SET maxmemory-policy foo\r\nCONFIG SET databases 3\r\nCONFIG SET maxmemory 1 maxmemory 2\r\n",
    "CONFIG SET maxmemory-samples abc\r\nCONFIG SET maxmemory-samples 0\r\nCONFIG SET appendonly maybe\r\n",
    "CONFIG SET timeout -1\r\nCONFIG SET proto-max-bulk-len 1\r\nCONFIG SET loglevel loud\r\n",
    "CONFIG SET maxmemory 2MB\r\nCONFIG GET maxmemory\r\nCONFIG SET maxmemory 3k maxmemory-policy ALLKEYS-LRU\r\nCONFIG GET maxmemory\r\nCONFIG GET maxmemory-policy\r\n",
    "CONFIG SET maxmemory kb\r\nCONFIG GET maxmemory\r\nCONFIG SET maxmemory 1G\r\nCONFIG GET maxmemory\r\nCONFIG SET maxmemory 0\r\n",
    "CONFIG SET stream-node-max-bytes 8kb stream-node-max-entries 7\r\nCONFIG GET stream-node-max-bytes\r\nCONFIG GET stream-node-max-entries\r\n",
    "CONFIG HELP\r\nCONFIG RESETSTAT\r\nCONFIG REWRITE\r\nCONFIG RESETSTAT x\r\n",
    // COMMAND.
    "COMMAND INFO nosuch\r\nCOMMAND COUNT x\r\n",
    // Inline parsing.
    "ECHO \"a\\x41\\n\\tb\"\r\nECHO 'single \\' quote'\r\nECHO \"\\q\"\r\nECHO \"\\xZZ\"\r\n",
    "\r\n  \r\n*0\r\n*-1\r\nPING\r\n",
    "*1\r\n$4\r\npingXY*1\r\n$4\r\nping\r\n",
    // Protocol errors (the connection closes).
    "*abc\r\n",
    "*3000000000\r\n",
    "PING\r\n*1\r\n+foo\r\n",
    "*1\r\n$-1\r\n",
    "*1\r\n$abc\r\n",
    "*1\r\n$600000000\r\n",
    "*01\r\n",
    "*+1\r\n",
    "ECHO \"a\r\n",
    "ECHO \"a\"b\r\n",
    "ECHO 'a'b\r\n",
    "*1\r\n\r\n",
    "*2\r\n$4\r\nECHO\r\n:5\r\n",
];

/// Stream and key-space scripts; each runs on an empty data set.
const STREAM_SCRIPTS: &[&str] = &[
    // XADD: IDs and their errors.
    "XADD s 1-1 a 1\r\nXADD s 1-1 a 1\r\nXADD s 1-0 a 1\r\nXADD s 1-2 a 1 b 2\r\nXADD s 2 c 3\r\nXADD s 2-* d 4\r\nXADD s 3-* e 5\r\nXRANGE s - +\r\n",
    "XADD s 0-0 a 1\r\nXADD s 0 a 1\r\nXADD s 0-* a 1\r\nXADD s abc a 1\r\nXADD s 1-x a 1\r\nXADD s - a 1\r\nXADD s + a 1\r\nXADD s 1-2-3 a 1\r\nXADD s 18446744073709551616 a 1\r\nEXISTS s\r\n",
    "XADD s 1 a\r\nXADD s 1 a b c\r\nXADD s\r\nXADD s MAXLEN 5\r\nXADD s NOMKSTREAM\r\n",
    "XADD s NOMKSTREAM 1 a 1\r\nEXISTS s\r\nXADD s 1 a 1\r\nXADD s NOMKSTREAM 2 a 1\r\nXLEN s\r\n",
    "XADD s 18446744073709551615-18446744073709551615 a 1\r\nXADD s 1 a 1\r\nXADD s 18446744073709551615-* a 1\r\n",
    // XADD trimming and its option errors.
    "XADD s 1 a 1\r\nXADD s 2 a 1\r\nXADD s MAXLEN 1 3 a 1\r\nXRANGE s - +\r\nXADD s MAXLEN = 1 4 a 1\r\nXLEN s\r\nXADD s MINID 4 5 a 1\r\nXRANGE s - +\r\n",
    "XADD s MAXLEN -1 1 a 1\r\nXADD s MAXLEN abc 1 a 1\r\nXADD s MAXLEN 1 MINID 1 1 a 1\r\nXADD s LIMIT 5 1 a 1\r\nXADD s MAXLEN 1 LIMIT 5 1 a 1\r\nXADD s MAXLEN ~ 1 LIMIT -1 1 a 1\r\nXADD s MINID abc 1 a 1\r\nXADD s LIMIT 0 1 a 1\r\n",
    "XADD s MAXLEN ~ 0 1 a 1\r\nXADD s MAXLEN ~ 0 LIMIT 0 2 a 1\r\nXLEN s\r\nXADD s MAXLEN\r\nXADD s MAXLEN ~\r\n",
    // XRANGE / XREVRANGE.
    "XADD s 1-1 a 1\r\nXADD s 1-2 b 2\r\nXADD s 2-1 c 3\r\nXRANGE s - + COUNT 2\r\nXRANGE s (1-1 +\r\nXRANGE s - (2-1\r\nXRANGE s 1 1\r\nXRANGE s 2 +\r\nXREVRANGE s + -\r\nXREVRANGE s + - COUNT 1\r\nXREVRANGE s (2-1 -\r\n",
    "XADD s 1-1 a 1\r\nXRANGE s - + COUNT 0\r\nXRANGE s - + COUNT -5\r\nXRANGE s - + COUNT x\r\nXRANGE s - + FOO\r\nXRANGE s - + COUNT\r\nXRANGE nope - +\r\nXRANGE s x +\r\nXRANGE s - x\r\nXRANGE s (+ +\r\nXRANGE s - (-\r\nXRANGE s (18446744073709551615-18446744073709551615 +\r\nXRANGE s - (0-0\r\nXRANGE s 5 1\r\nXRANGE s ( +\r\n",
    // XLEN, XDEL, XTRIM.
    "XLEN nope\r\nXADD s 1 a 1\r\nXADD s 2 a 1\r\nXADD s 3 a 1\r\nXDEL s 2 2 9\r\nXLEN s\r\nXDEL s abc\r\nXDEL nope abc\r\nXDEL s\r\nXRANGE s - +\r\nXINFO STREAM s\r\n",
    "XTRIM nope MAXLEN 0\r\nXADD s 1 a 1\r\nXADD s 2 a 1\r\nXADD s 3 a 1\r\nXTRIM s\r\nXTRIM s FOO 1\r\nXTRIM s LIMIT 1\r\nXTRIM s MAXLEN 1 LIMIT 1\r\nXTRIM s MAXLEN 2\r\nXTRIM s MINID 3\r\nXTRIM s MINID =\r\nXRANGE s - +\r\nXTRIM s MAXLEN ~ 0\r\nXLEN s\r\n",
    // XSETID.
    "XSETID nope 1\r\nXADD s 5 a 1\r\nXSETID s 4\r\nXSETID s 6\r\nXADD s 6 a 1\r\nXSETID s 9 ENTRIESADDED -1\r\nXSETID s 9 ENTRIESADDED 1\r\nXSETID s 9 MAXDELETEDID 10\r\nXSETID s 9 FOO\r\nXSETID s 9 ENTRIESADDED 5 MAXDELETEDID 8\r\nXINFO STREAM s\r\nXSETID s abc\r\n",
    // XINFO.
    "XINFO STREAM nope\r\nXADD s 1-1 a 1 b 2\r\nXADD s 2-2 c 3\r\nXINFO STREAM s\r\nXINFO STREAM s FULL\r\nXINFO STREAM s FULL COUNT 1\r\nXINFO STREAM s FULL COUNT 0\r\nXINFO STREAM s FOO\r\nXINFO STREAM s FULL COUNT\r\nXINFO HELP\r\nXINFO FOO\r\nXINFO\r\n",
    "XADD s MAXLEN 0 1 a 1\r\nXINFO STREAM s\r\nXINFO STREAM s FULL\r\n",
    "XINFO GROUPS nope\r\nXINFO CONSUMERS nope g\r\nXADD s 1 a 1\r\nXINFO GROUPS s\r\nXINFO CONSUMERS s g\r\nXINFO GROUPS s x\r\nXINFO CONSUMERS s\r\n",
    // XREAD without blocking.
    "XREAD STREAMS nope 0\r\nXADD s 1 a 1\r\nXADD s 2 b 2\r\nXADD t 1 c 3\r\nXREAD STREAMS s t 0 0\r\nXREAD COUNT 1 STREAMS s t 0 0\r\nXREAD STREAMS s $\r\nXREAD STREAMS s t 1 0-1\r\nXREAD COUNT 0 STREAMS s 0\r\nXREAD COUNT -3 STREAMS s 1\r\n",
    "XREAD STREAMS s\r\nXREAD STREAMS s t 0\r\nXREAD COUNT x STREAMS s 0\r\nXREAD BLOCK x STREAMS s 0\r\nXREAD BLOCK -1 STREAMS s 0\r\nXREAD FOO STREAMS s 0\r\nXREAD s 0\r\nXREAD STREAMS s abc\r\nXREAD STREAMS s +\r\nXREAD STREAMS s -\r\n",
    "XADD s 1 a 1\r\nXREAD BLOCK 0 STREAMS s 0\r\nXREAD BLOCK 10 STREAMS s $\r\nMULTI\r\nXREAD BLOCK 0 STREAMS s $\r\nXADD s 2 b 2\r\nXREAD BLOCK 0 STREAMS s 1\r\nEXEC\r\n",
    // Key space.
    "XADD s 1 a 1\r\nXADD t 1 a 1\r\nEXISTS s s t nope\r\nTYPE s\r\nTYPE nope\r\nDBSIZE\r\nKEYS s\r\nKEYS nope*\r\nDEL s nope s\r\nUNLINK t\r\nDBSIZE\r\nDEL\r\n",
    "XADD s 1 a 1\r\nRENAME s u\r\nXRANGE u - +\r\nEXISTS s\r\nRENAME nope x\r\nRENAME u u\r\nRENAME u\r\nXADD v 5 a 1\r\nRENAME u v\r\nXRANGE v - +\r\n",
    "XADD s 1 a 1\r\nSCAN 0\r\nSCAN 0 MATCH s COUNT 100\r\nSCAN 0 TYPE stream\r\nSCAN 0 TYPE string\r\nSCAN x\r\nSCAN 0 COUNT 0\r\nSCAN 0 FOO bar\r\nKEYS *\r\n",
    "XADD s 1 a 1\r\nFLUSHALL x\r\nFLUSHALL ASYNC\r\nDBSIZE\r\nXADD s 1 a 1\r\nFLUSHDB SYNC\r\nDBSIZE\r\nFLUSHDB\r\nFUNCTION FLUSH\r\nFUNCTION FLUSH ASYNC\r\nFUNCTION FLUSH x\r\nFUNCTION\r\n",
    "XADD s 1 a 1\r\nTTL s\r\nPTTL s\r\nTTL nope\r\nPTTL nope\r\nTOUCH s s nope\r\nTOUCH\r\nROLE\r\nTIME x\r\n",
    "CLIENT KILL 1.2.3.4:5\r\nCLIENT KILL ID 999\r\nCLIENT KILL ID x\r\nCLIENT KILL FOO bar\r\nCLIENT KILL ADDR 1.2.3.4:5 SKIPME no\r\nCLIENT KILL SKIPME maybe\r\nCLIENT KILL ID 1 ID\r\nCLIENT KILL TYPE bogus\r\nCLIENT KILL USER nobody\r\n",
    // Transactions over streams.
    "MULTI\r\nXADD s 1 a 1\r\nXADD s 1 a 1\r\nXLEN s\r\nEXEC\r\nMULTI\r\nXADD s 2 a\r\nXLEN s\r\nEXEC\r\nXLEN s\r\n",
];

/// Consumer-group scripts; each runs on an empty data set. Idle times and
/// delivery times are not shown (they depend on timing): XPENDING's
/// extended form is used with consumers or IDLE filters that select
/// nothing, or after XCLAIM ... IDLE/TIME fixed them.
const GROUP_SCRIPTS: &[&str] = &[
    // XGROUP CREATE and its errors, in Redis's order.
    "XGROUP CREATE s g $\r\nXGROUP CREATE s g $ MKSTREAM\r\nXGROUP CREATE s g $ MKSTREAM\r\nXGROUP CREATE s g2 0 ENTRIESREAD -2\r\nXGROUP CREATE s g2 0 ENTRIESREAD x\r\nXGROUP CREATE s g2 0 FOO\r\nXGROUP CREATE s g2 abc\r\nXGROUP CREATE s g2 -\r\nXGROUP CREATE nokey g abc\r\nXGROUP CREATE s g3 5 ENTRIESREAD 3 MKSTREAM\r\nXGROUP CREATE s g4 0 1 2 3 4\r\nXINFO GROUPS s\r\nXINFO STREAM s\r\n",
    // SETID, DESTROY, CREATECONSUMER, DELCONSUMER, HELP, unknown subcommands.
    "XGROUP CREATE s g $ MKSTREAM\r\nXGROUP SETID s nog 0\r\nXGROUP SETID s g abc\r\nXGROUP SETID s g - ENTRIESREAD 3\r\nXINFO GROUPS s\r\nXGROUP SETID s g +\r\nXGROUP SETID s g 0 MKSTREAM\r\nXGROUP SETID s g 0 ENTRIESREAD\r\nXGROUP SETID nokey g 0\r\nXGROUP DESTROY s nog\r\nXGROUP DESTROY nokey g\r\nXGROUP CREATECONSUMER s g c1\r\nXGROUP CREATECONSUMER s g c1\r\nXGROUP CREATECONSUMER s nog c1\r\nXGROUP CREATECONSUMER nokey g c1\r\nXGROUP DELCONSUMER s g c1\r\nXGROUP DELCONSUMER s g c9\r\nXGROUP DELCONSUMER s nog c9\r\nXGROUP FOO s g\r\nXGROUP HELP\r\nXGROUP\r\nXGROUP CREATE s\r\nXGROUP DESTROY s g x\r\nXGROUP HELP x\r\nXINFO GROUPS s\r\nXGROUP DESTROY s g\r\nXINFO GROUPS s\r\n",
    // XREADGROUP: new entries, history, deleted history entries, NOACK.
    "XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXADD s 3-1 c 3\r\nXGROUP CREATE s g 0\r\nXREADGROUP GROUP g c1 COUNT 2 STREAMS s >\r\nXREADGROUP GROUP g c2 STREAMS s >\r\nXREADGROUP GROUP g c2 STREAMS s >\r\nXREADGROUP GROUP g c1 STREAMS s 0\r\nXREADGROUP GROUP g c1 STREAMS s 1-1\r\nXREADGROUP GROUP g c1 COUNT 1 STREAMS s 0\r\nXDEL s 1-1\r\nXREADGROUP GROUP g c1 STREAMS s 0\r\nXREADGROUP GROUP g c9 STREAMS s 0\r\nXPENDING s g\r\nXINFO GROUPS s\r\nXADD s 4-1 d 4\r\nXREADGROUP GROUP g c3 NOACK STREAMS s >\r\nXPENDING s g\r\nXINFO GROUPS s\r\n",
    // XREADGROUP over several streams, and its errors.
    "XADD s 1-1 a 1\r\nXADD t 1-1 b 2\r\nXGROUP CREATE s g 0\r\nXGROUP CREATE t g $\r\nXREADGROUP GROUP g c STREAMS s t > >\r\nXADD t 2-1 c 3\r\nXREADGROUP GROUP g c COUNT 0 STREAMS s t > >\r\nXREADGROUP GROUP g c STREAMS s t 0 0\r\nXREADGROUP GROUP g c STREAMS s t > 0\r\nXREADGROUP GROUP g c STREAMS s $\r\nXREADGROUP GROUP g c STREAMS s abc\r\nXREADGROUP GROUP g c STREAMS s -\r\nXREADGROUP GROUP nog c STREAMS s >\r\nXREADGROUP GROUP g c STREAMS nokey >\r\nXREADGROUP GROUP g c STREAMS s nokey > >\r\nXREADGROUP GROUP g c STREAMS nokey s abc >\r\nXREADGROUP STREAMS s >\r\nXREADGROUP GROUP g c FOO STREAMS s >\r\nXREADGROUP GROUP g c STREAMS s t >\r\nXREADGROUP GROUP g c BLOCK x STREAMS s >\r\nXREADGROUP GROUP g c BLOCK -1 STREAMS s >\r\nXREADGROUP GROUP g c COUNT x STREAMS s >\r\nXREADGROUP GROUP g STREAMS s >\r\nXREADGROUP GROUP g c COUNT 1\r\n",
    // BLOCK: a timeout, inside MULTI, history reads never block.
    "XGROUP CREATE s g $ MKSTREAM\r\nXREADGROUP GROUP g c BLOCK 10 STREAMS s >\r\nXREADGROUP GROUP g c BLOCK 0 STREAMS s 0\r\nMULTI\r\nXREADGROUP GROUP g c BLOCK 0 STREAMS s >\r\nXADD s 1-1 a 1\r\nXREADGROUP GROUP g c BLOCK 0 STREAMS s >\r\nEXEC\r\nXPENDING s g\r\n",
    // XREAD refuses group options.
    "XADD s 1-1 a 1\r\nXREAD STREAMS s >\r\nXREAD NOACK STREAMS s 0\r\nXREAD GROUP g c STREAMS s 0\r\n",
    // XACK.
    "XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXGROUP CREATE s g 0\r\nXREADGROUP GROUP g c STREAMS s >\r\nXACK s g 2-1 9-9 2-1\r\nXACK s g abc\r\nXACK s g 1-1 abc\r\nXACK s nog 1-1\r\nXACK nokey g 1-1\r\nXACK s g\r\nXPENDING s g\r\nXACK s g 1\r\nXPENDING s g\r\nXINFO GROUPS s\r\n",
    // XPENDING forms and errors.
    "XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXGROUP CREATE s g 0\r\nXPENDING s g\r\nXPENDING s g - + 10\r\nXREADGROUP GROUP g c1 COUNT 1 STREAMS s >\r\nXREADGROUP GROUP g c2 STREAMS s >\r\nXPENDING s g\r\nXPENDING s g - + 10 c9\r\nXPENDING s g IDLE 100000000 - + 10\r\nXPENDING s g - + 0\r\nXPENDING s g - + -1\r\nXPENDING s g - + abc\r\nXPENDING s g x + 10\r\nXPENDING s g - x 10\r\nXPENDING s g (+ + 10\r\nXPENDING s g - (0-0 10\r\nXPENDING s g IDLE 0 - +\r\nXPENDING s g IDLE x - + 10\r\nXPENDING s g a\r\nXPENDING s g a b\r\nXPENDING s g a b c d e f g\r\nXPENDING s nog\r\nXPENDING nokey g - + 10\r\nXPENDING s nog x + 10\r\n",
    // XCLAIM: options, errors, deleted entries leave the PEL.
    "XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXADD s 3-1 c 3\r\nXGROUP CREATE s g 0\r\nXREADGROUP GROUP g c1 STREAMS s >\r\nXCLAIM s g c3 0 3-1 JUSTID\r\nXCLAIM s g c3 0 1-1 IDLE 500000000\r\nXAUTOCLAIM s g c3 400000000 0 JUSTID\r\nXCLAIM s g c3 0 FOO\r\nXCLAIM s g c3 x 1-1\r\nXCLAIM s g c3 0 1-1 IDLE x\r\nXCLAIM s g c3 0 1-1 RETRYCOUNT x\r\nXCLAIM s g c3 0 1-1 TIME x\r\nXCLAIM s g c3 0 1-1 LASTID x\r\nXCLAIM s g c3 0 1-1 IDLE\r\nXCLAIM s nog c3 0 1-1\r\nXCLAIM nokey g c3 0 1-1\r\nXCLAIM s g c3 9999999999 1-1\r\nXCLAIM s g c3 0 3-1 RETRYCOUNT 7 JUSTID IDLE 600000000\r\nXAUTOCLAIM s g c3 550000000 0 JUSTID\r\nXCLAIM s g c4 0 9-9 8-8\r\nXCLAIM s g c4 0 2-1 FORCE JUSTID LASTID 5-5\r\nXINFO GROUPS s\r\nXDEL s 2-1\r\nXCLAIM s g c5 0 2-1 1-1 TIME 1\r\nXPENDING s g\r\nXADD s 4-1 d 4\r\nXCLAIM s g c5 0 4-1 FORCE IDLE 700000000\r\nXAUTOCLAIM s g c6 650000000 0 JUSTID\r\nXPENDING s g\r\n",
    // XAUTOCLAIM: cursor, COUNT, JUSTID, deleted entries.
    "XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXADD s 3-1 c 3\r\nXGROUP CREATE s g 0\r\nXREADGROUP GROUP g c1 STREAMS s >\r\nXAUTOCLAIM s g c4 0 0 COUNT 1\r\nXAUTOCLAIM s g c4 0 (1-1 COUNT 1 JUSTID\r\nXAUTOCLAIM s g c4 0 0 COUNT 0\r\nXAUTOCLAIM s g c4 0 0 COUNT x\r\nXAUTOCLAIM s g c4 x 0\r\nXAUTOCLAIM s g c4 0 x\r\nXAUTOCLAIM s g c4 0 0 FOO\r\nXAUTOCLAIM s g c4 0 0 COUNT\r\nXAUTOCLAIM s nog c4 0 0\r\nXAUTOCLAIM nokey g c4 0 0\r\nXAUTOCLAIM s g c4 9999999999 0\r\nXDEL s 2-1\r\nXAUTOCLAIM s g c5 0 - COUNT 10\r\nXPENDING s g\r\nXAUTOCLAIM s g c5 0 + JUSTID\r\nXAUTOCLAIM s g c5 0 0 COUNT 9223372036854775807\r\n",
    // Deleting the key or a group, DELCONSUMER, XINFO errors.
    "XADD s 1-1 a 1\r\nXGROUP CREATE s g 0\r\nXGROUP CREATE s h $\r\nXREADGROUP GROUP g c STREAMS s >\r\nXINFO STREAM s\r\nXGROUP DELCONSUMER s g c\r\nXPENDING s g\r\nXINFO GROUPS s\r\nDEL s\r\nXINFO GROUPS s\r\nXPENDING s g\r\nXINFO CONSUMERS s g\r\nXADD s 2-1 a 1\r\nXINFO CONSUMERS s g\r\nXINFO GROUPS s\r\nXINFO CONSUMERS s\r\n",
    // Lag and entries-read after deletions and trims (Redis's null rules).
    "XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXADD s 3-1 c 3\r\nXGROUP CREATE s g 0\r\nXGROUP CREATE s h 0\r\nXREADGROUP GROUP g c COUNT 1 STREAMS s >\r\nXINFO GROUPS s\r\nXDEL s 2-1\r\nXINFO GROUPS s\r\nXREADGROUP GROUP g c STREAMS s >\r\nXINFO GROUPS s\r\nXTRIM s MAXLEN 0\r\nXINFO GROUPS s\r\nXADD s 5-1 e 5\r\nXINFO GROUPS s\r\nXGROUP SETID s h 0 ENTRIESREAD 0\r\nXINFO GROUPS s\r\n",
    // Trimmed and deleted entries in histories, claims and the PEL (KEEPREF).
    "XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXADD s 3-1 c 3\r\nXADD s 4-1 d 4\r\nXGROUP CREATE s g 0\r\nXREADGROUP GROUP g c STREAMS s >\r\nXTRIM s MAXLEN 2\r\nXREADGROUP GROUP g c STREAMS s 0\r\nXREADGROUP GROUP g c COUNT 3 STREAMS s 0-0\r\nXPENDING s g\r\nXCLAIM s g d 0 1-1 3-1 JUSTID\r\nXPENDING s g\r\nXAUTOCLAIM s g d 0 0 COUNT 1\r\nXPENDING s g\r\nXINFO GROUPS s\r\n",
    // SETID moves the group back or forward; `>` follows it.
    "XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXGROUP CREATE s g $\r\nXGROUP SETID s g 0\r\nXINFO GROUPS s\r\nXREADGROUP GROUP g c COUNT 1 STREAMS s >\r\nXGROUP SETID s g $ ENTRIESREAD 2\r\nXINFO GROUPS s\r\nXREADGROUP GROUP g c STREAMS s >\r\nXPENDING s g\r\nXGROUP SETID s g 1-1 ENTRIESREAD -1\r\nXINFO GROUPS s\r\nXREADGROUP GROUP g c STREAMS s >\r\nXPENDING s g\r\n",
    // NOACK, COUNT across streams, a consumer's history with COUNT.
    "XADD a 1-1 x 1\r\nXADD a 2-1 x 2\r\nXADD b 1-1 y 1\r\nXGROUP CREATE a g 0\r\nXGROUP CREATE b g 0\r\nXREADGROUP GROUP g c COUNT 1 STREAMS a b > >\r\nXREADGROUP GROUP g c NOACK STREAMS a b > >\r\nXREADGROUP GROUP g c STREAMS a b 0 0\r\nXREADGROUP GROUP g c COUNT 1 STREAMS a b 0 (\r\nXREADGROUP GROUP g c COUNT 1 STREAMS a b 0 0\r\nXPENDING a g\r\nXPENDING b g\r\nXACK a g 1-1 1-1\r\nXACK b g 1-1\r\nXREADGROUP GROUP g c STREAMS a b 0 0\r\n",
    // LASTID and FORCE on XCLAIM move the group forward.
    "XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXGROUP CREATE s g 0\r\nXCLAIM s g c 0 2-1 FORCE LASTID 2-1\r\nXINFO GROUPS s\r\nXREADGROUP GROUP g c STREAMS s >\r\nXCLAIM s g c 0 1-1 FORCE JUSTID LASTID 1-5\r\nXINFO GROUPS s\r\nXPENDING s g\r\nXCLAIM s g c 0 9-9 FORCE\r\nXPENDING s g\r\n",
    // Transactions with groups.
    "XADD s 1-1 a 1\r\nXGROUP CREATE s g 0\r\nMULTI\r\nXREADGROUP GROUP g c STREAMS s >\r\nXACK s g 1-1\r\nXPENDING s g\r\nXGROUP DESTROY s g\r\nEXEC\r\nXINFO GROUPS s\r\n",
];

/// Group scripts after `HELLO 3` (maps, nulls and null arrays as RESP3 types).
const GROUP_RESP3_SCRIPTS: &[&str] = &[
    "XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXGROUP CREATE s g 0\r\nXREADGROUP GROUP g c1 COUNT 1 STREAMS s >\r\nXDEL s 1-1\r\nXREADGROUP GROUP g c1 STREAMS s 0\r\nXREADGROUP GROUP g c1 STREAMS s >\r\nXREADGROUP GROUP g c1 STREAMS s >\r\nXPENDING s g\r\nXINFO GROUPS s\r\nXGROUP CREATE s g2 $\r\nXPENDING s g2\r\nXAUTOCLAIM s g c2 0 0 JUSTID\r\nXAUTOCLAIM s g c2 0 0\r\nXCLAIM s g c3 0 2-1 1-1\r\nXGROUP DELCONSUMER s g c3\r\nXINFO STREAM s\r\nMULTI\r\nXREADGROUP GROUP g c1 BLOCK 0 STREAMS s >\r\nEXEC\r\nXREADGROUP GROUP g c1 BLOCK 10 STREAMS s >\r\nXREADGROUP GROUP g c1 STREAMS s 0\r\n",
];

/// Scripts run after `HELLO 3`; the HELLO reply (it holds the client id and
/// server version) is cut before comparing.
const RESP3_SCRIPTS: &[&str] = &[
    "CONFIG GET maxmemory\r\nCLIENT GETNAME\r\nCOMMAND INFO nosuch\r\nPING\r\nECHO x\r\n",
    "MULTI\r\nPING\r\nCONFIG GET timeout\r\nEXEC\r\nCONFIG GET nosuch\r\n",
    "HELLO 2 foo\r\nCLIENT SETNAME x\r\nCLIENT GETNAME\r\n",
    "XADD s 1-1 a 1\r\nXADD t 2-2 b 2\r\nXREAD STREAMS s t 0 0\r\nXREAD STREAMS s $\r\nXRANGE s - + COUNT 0\r\nXADD n NOMKSTREAM 1 a 1\r\nXINFO STREAM s\r\nXINFO STREAM s FULL\r\nXADD e MAXLEN 0 1 a 1\r\nXINFO STREAM e\r\n",
];

/// With `requirepass secret`.
const AUTH_SCRIPTS: &[&str] = &[
    "PING\r\nAUTH wrong\r\nAUTH default wrong\r\nAUTH secret\r\nPING\r\n",
    "foo\r\nECHO\r\nECHO x\r\nHELLO 3\r\nCLIENT GETNAME\r\nQUIT\r\n",
    "MULTI\r\nPING\r\nAUTH secret\r\nMULTI\r\nPING\r\nEXEC\r\n",
    "*11\r\n",
    "*2\r\n$4\r\nECHO\r\n$20000\r\n",
    "AUTH default secret\r\n*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n",
];

async fn compare<S: AsRef<str>>(
    eddy: SocketAddr,
    redis: SocketAddr,
    scripts: &[S],
    prefix: &str,
    skip: usize,
) {
    let mut failures = Vec::new();
    for script in scripts {
        let script = script.as_ref();
        let full = format!("{prefix}{script}ECHO __end__\r\n");
        let (a, b) = tokio::join!(
            run_script(eddy, full.as_bytes(), MARKER),
            run_script(redis, full.as_bytes(), MARKER)
        );
        let (a, b) = (cut_frames(&a, skip), cut_frames(&b, skip));
        if a != b {
            // Show the replies from a little before the first difference.
            let same = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            let from = same.saturating_sub(60);
            failures.push(format!(
                "script {script:?}\n  differ at byte {same}\n  eddy:  {:?}\n  redis: {:?}",
                String::from_utf8_lossy(&a[from..]),
                String::from_utf8_lossy(&b[from..])
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Drops the first `n` reply frames.
fn cut_frames(out: &[u8], n: usize) -> Vec<u8> {
    let mut c = std::io::Cursor::new(out);
    for _ in 0..n {
        if eddy::resp::Frame::check(&mut c).is_err() {
            return out.to_vec();
        }
    }
    out[c.position() as usize..].to_vec()
}

#[tokio::test]
async fn server_commands_match_redis() {
    let Some(redis) = start_redis(&[]).await else {
        return;
    };
    let eddy = TestServer::start(&[]).await;
    let raddr: SocketAddr = ([127, 0, 0, 1], redis.port).into();
    compare(eddy.addr, raddr, SCRIPTS, "", 0).await;
    compare(
        eddy.addr,
        raddr,
        RESP3_SCRIPTS,
        "HELLO 3\r\nFLUSHALL\r\n",
        2,
    )
    .await;
    eddy.stop().await;
}

#[tokio::test]
async fn stream_commands_match_redis() {
    let Some(redis) = start_redis(&[]).await else {
        return;
    };
    let eddy = TestServer::start(&[]).await;
    let raddr: SocketAddr = ([127, 0, 0, 1], redis.port).into();
    compare(eddy.addr, raddr, STREAM_SCRIPTS, "FLUSHALL\r\n", 1).await;
    eddy.stop().await;
}

#[tokio::test]
async fn group_commands_match_redis() {
    let Some(redis) = start_redis(&[]).await else {
        return;
    };
    let eddy = TestServer::start(&[]).await;
    let raddr: SocketAddr = ([127, 0, 0, 1], redis.port).into();
    compare(eddy.addr, raddr, GROUP_SCRIPTS, "FLUSHALL\r\n", 1).await;
    compare(
        eddy.addr,
        raddr,
        GROUP_RESP3_SCRIPTS,
        "HELLO 3\r\nFLUSHALL\r\n",
        2,
    )
    .await;
    eddy.stop().await;
}

#[tokio::test]
async fn trimming_many_entries_matches_redis() {
    let Some(redis) = start_redis(&[]).await else {
        return;
    };
    let eddy = TestServer::start(&[]).await;
    let raddr: SocketAddr = ([127, 0, 0, 1], redis.port).into();
    let mut scripts = Vec::new();
    for (n, trim) in [
        (250, "MAXLEN ~ 120"),
        (250, "MAXLEN 120"),
        (330, "MINID ~ 150"),
        (500, "MAXLEN ~ 10 LIMIT 150"),
    ] {
        let mut s = String::new();
        for i in 1..=n {
            s.push_str(&format!("XADD s {i}-1 field value-{i}\r\n"));
        }
        s.push_str(&format!(
            "XTRIM s {trim}\r\nXLEN s\r\nXRANGE s - + COUNT 3\r\n"
        ));
        s.push_str(&format!(
            "XADD s {trim} {}-1 f v\r\nXLEN s\r\nXREVRANGE s + - COUNT 2\r\n",
            n + 1
        ));
        scripts.push(s);
    }
    compare(eddy.addr, raddr, &scripts, "FLUSHALL\r\n", 1).await;
    eddy.stop().await;
}

#[tokio::test]
async fn authentication_matches_redis() {
    let Some(redis) = start_redis(&["--requirepass", "secret"]).await else {
        return;
    };
    let eddy = TestServer::start(&[("requirepass", "secret")]).await;
    let raddr: SocketAddr = ([127, 0, 0, 1], redis.port).into();
    compare(eddy.addr, raddr, AUTH_SCRIPTS, "", 0).await;
    eddy.stop().await;
}

/// Commands redis-server 7.0 does not have: eddy's extensions and what
/// later Redis versions added (checked by the end-to-end tests instead).
const EDDY_ONLY: &[&str] = &[
    "xgroup|setpolicy",
    "xgroup|getpolicy",
    "xgroup|expireconsumer",
    "xackdel",
    "xdelex",
];

/// Reads one reply frame from a fresh connection.
async fn one_reply(addr: SocketAddr, request: &[u8]) -> eddy::resp::Frame {
    let mut c = server_common::Raw::connect(addr).await;
    let bytes = c.call(request, 1).await;
    let mut cur = std::io::Cursor::new(&bytes[..]);
    eddy::resp::Frame::parse(&mut cur).expect("a frame")
}

/// Arity, flags, key positions and ACL categories of `name`, with the sets sorted.
fn command_shape(info: &eddy::resp::Frame) -> Option<Vec<String>> {
    use eddy::resp::Frame;
    let Frame::Array(outer) = info else {
        return None;
    };
    let Some(Frame::Array(fields)) = outer.first() else {
        return None;
    };
    let mut shape = Vec::new();
    for (i, f) in fields.iter().enumerate().take(7).skip(1) {
        let text = match f {
            Frame::Array(items) | Frame::Set(items) => {
                let mut v: Vec<String> = items.iter().map(|x| format!("{x:?}")).collect();
                v.sort();
                v.join(",")
            }
            other => format!("{other:?}"),
        };
        shape.push(format!("{i}:{text}"));
    }
    Some(shape)
}

#[tokio::test]
async fn command_table_matches_redis() {
    let Some(redis) = start_redis(&[]).await else {
        return;
    };
    let eddy = TestServer::start(&[]).await;
    let raddr: SocketAddr = ([127, 0, 0, 1], redis.port).into();
    let eddy::resp::Frame::Array(names) = one_reply(eddy.addr, b"COMMAND LIST\r\n").await else {
        panic!("COMMAND LIST is an array");
    };
    assert!(names.len() > 40, "{} commands", names.len());
    // eddy's own commands, and ZRANK/ZREVRANK which take Redis 7.2's
    // WITHSCORE (arity -3 where 7.0 has 3).
    const NOT_IN_REDIS_7_0: &[&[u8]] = &[
        b"view.create",
        b"view.drop",
        b"view.list",
        b"view.info",
        b"view.rebuild",
        b"view.range",
        b"zrank",
        b"zrevrank",
    ];
    let mut diffs = Vec::new();
    for name in names {
        let eddy::resp::Frame::Bulk(name) = name else {
            panic!("names are bulk strings")
        };
        if EDDY_ONLY.contains(&String::from_utf8_lossy(&name).as_ref())
            || NOT_IN_REDIS_7_0.contains(&name.as_slice())
        {
            continue;
        }
        let req = eddy::resp::Frame::command([&b"COMMAND"[..], b"INFO", &name]);
        let ours = command_shape(&one_reply(eddy.addr, &req).await);
        let theirs = command_shape(&one_reply(raddr, &req).await);
        if ours != theirs {
            diffs.push(format!(
                "{}: eddy {ours:?} redis {theirs:?}",
                String::from_utf8_lossy(&name)
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    eddy.stop().await;
}
