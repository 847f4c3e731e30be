#!/usr/bin/env python3
"""Writes the bad-input corpus of tests/bad_inputs (issue 7).

Each NNN-name.env file is an environment: '#' lines are comments, every other
line is VAR=VALUE where VALUE may use the escapes \\n \\t \\r \\\\ and \\xHH (so
control bytes and newlines can be written). Each NNN-name.rules file is the
content of a SENDSHIM_FAULTS_FILE, byte for byte. Every input must stop a
program before main with exit status 2 and one line naming the variable
(tests/integration/test_security.c). Run from anywhere: it rewrites the corpus
next to itself; the files are committed, this script documents them.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

def esc(v):
    out = []
    for ch in v:
        o = ord(ch)
        if ch == '\\':
            out.append('\\\\')
        elif ch == '\n':
            out.append('\\n')
        elif ch == '\t':
            out.append('\\t')
        elif ch == '\r':
            out.append('\\r')
        elif o < 0x20 or o >= 0x7f:
            out.append('\\x%02x' % o)
        else:
            out.append(ch)
    return ''.join(out)

envs = []  # (name, why, [(var, value)])
rules = [] # (name, why, bytes)

def env(name, why, *pairs):
    envs.append((name, why, list(pairs)))

switches = ['2', 'yes', 'true', '-1', ' 1', '1 ', '01', '0x1', 'on', '\n', '1\n', '\x01', '\xff']
for var in ['SENDSHIM_NOSIGPIPE', 'SENDSHIM_TRACE', 'SENDSHIM_STATS']:
    for i, v in enumerate(switches[:7] if var != 'SENDSHIM_NOSIGPIPE' else switches):
        env('%s-%d' % (var.lower()[9:], i), '%s is a switch: 0 or 1' % var, (var, v))

for i, v in enumerate(['FreeBSD', 'bsd', 'linux2', 'linux ', 'freebsd\n', '\xff\xfe', 'x' * 4000, 'macOS',
                       'darwin', 'free bsd', '-']):
    env('flags-%d' % i, 'not a flag style', ('SENDSHIM_FLAGS', v))
for i, v in enumerate(['Pass', 'drop', 'reject,strip', 'ignore', '1']):
    env('unknown-%d' % i, 'not a mode', ('SENDSHIM_UNKNOWN_FLAGS', v))
for i, v in enumerate(['-1', '18446744073709551616', '1e5', '0x10', ' 5', '5 ', '9' * 40, 'abc', '+3', '3.0']):
    env('seed-%d' % i, 'not an unsigned 64-bit decimal', ('SENDSHIM_SEED', v))
for i, v in enumerate(['/nonexistent-dir-of-sendshim/log', '/', '/proc', '/' + 'a' * 5000,
                       '/proc/self/nonexistent/x', '/dev/null/x']):
    env('log-%d' % i, 'a log that cannot be opened', ('SENDSHIM_LOG', v))
for i, v in enumerate(['/nonexistent-of-sendshim.rules', '/', '/dev/zero', '/proc/self/nonexistent',
                       '/' + 'b' * 5000]):
    env('faultsfile-%d' % i, 'a rules file that cannot be read', ('SENDSHIM_FAULTS_FILE', v))

bad_rules = [
    'send', 'send:fd=3', 'bogus:error=EAGAIN', 'send:error=EISDIR', 'send:error=99999', 'send:error=',
    'send:error=EAGAIN;bad', 'send:short=-1', 'send:short=101%', 'send:short=10:type=dgram',
    'send:short=abc', 'send:batch=0', 'send:when=0', 'send:when=5..3', 'send:when=1+0', 'send:p=1.5',
    'send:p=-0.1', 'send:p=abc', 'send:type=stream,bogus', 'send:family=ipx', 'send:peer=999.1.1.1',
    'send:peer=[::1', 'send:port=70000', 'send:after=-5', 'send:delay=10', 'send:delay=10xs',
    'send:delay=50ms..10ms', ':error=EAGAIN', 'send:unknownfield=1', 'send:when=18446744073709551616',
    'send:short=18446744073709551616', 'send:delay=99999999999999999999s', 'send:delay=2d',
    'send,:error=EAGAIN', 'send:error=EAGAIN:\x1b[31m', 'send:error=E\xc3\xa9', 'send:error=EAGAIN\n\x01',
    'send:drop:type=stream', 'sendmmsg:batch=abc', 'write:error=EMSGSIZE:when=x', 'send:peer=',
    'send:peer=/' + 'p' * 200, 'send:' + 'x' * 3000, ';'.join(['send:error=EAGAIN:fd=%d' % i for i in range(65)]),
    'send:error=EAGAIN;' * 3 + 'send:error=EDOM', 'sendfile:error=EAGAIN', 'send:error=ENOBUFS:p=',
    'send:when=..5', 'send:when=3..+', '*:short=50%:type=dgram', 'send:delay=..', 'send:family=',
    'send:fd=99999999999999999999', 'send:port=-1', 'send:error=EAGAIN:p=0.5:p=', 'send:p=0.5',
    # issue 16: the network actions
    'send:reset:type=dgram', 'send:reset:family=unix', 'sendto:dup:type=stream', 'send:rate=1MB/s',
    'send:rate=0B/s', 'send:stall=0s', 'send:corrupt=65', 'send:drop:burst=0.5', 'send:reset:dup',
    'send:rate=1MiB/s:stall=1s', 'close:error=EAGAIN', 'shutdown:reset', 'send:drop:p=0.1:burst=2',
]
for i, v in enumerate(bad_rules):
    env('faults-%02d' % i, 'a bad rule in SENDSHIM_FAULTS', ('SENDSHIM_FAULTS', v))

env('multi-0', 'several variables, one bad', ('SENDSHIM_TRACE', '1'), ('SENDSHIM_STATS', '1'),
    ('SENDSHIM_FLAGS', 'freebsd'), ('SENDSHIM_SEED', 'seven'))
env('multi-1', 'a good rule then a bad flag style', ('SENDSHIM_FAULTS', 'send:error=EAGAIN'),
    ('SENDSHIM_FLAGS', 'solaris'))
env('multi-2', 'a bad log with good faults', ('SENDSHIM_FAULTS', 'send:error=EAGAIN'),
    ('SENDSHIM_LOG', '/nonexistent-dir-of-sendshim/x'))

def rule_file(name, why, data):
    rules.append((name, why, data if isinstance(data, bytes) else data.encode()))

rule_file('unknown-call', 'an unknown call', '# comment\nsend:error=EAGAIN\nrecv:error=EAGAIN\n')
rule_file('no-action', 'a rule without an action', 'send:fd=3\n')
rule_file('bad-errno', 'an errno send cannot return', '\n\n# x\nsendto:error=EISDIR\n')
rule_file('crlf-bad', 'CRLF lines, second one bad', 'send:error=EAGAIN\r\nsend:short=0%\r\n')
rule_file('binary', 'binary garbage', bytes(range(1, 256)))
rule_file('too-many', 'more than 64 rules', ''.join('send:error=EAGAIN:fd=%d\n' % i for i in range(70)))
rule_file('too-big', 'larger than 64 KiB', '#' + 'c' * 70000 + '\n')
rule_file('only-colons', 'colons only', ':::\n')
rule_file('star-typo', 'a typo in a field', '*:eror=EAGAIN\n')
rule_file('long-token', 'a very long token', 'send:error=' + 'E' * 20000 + '\n')
rule_file('semicolon-bad', 'semicolons in a file, one bad', 'send:error=EAGAIN;send:bogus\n')
rule_file('utf8', 'UTF-8 in a call name', 's\xe9nd:error=EAGAIN\n')
rule_file('escape', 'terminal escapes', 'send:error=\x1b]0;owned\x07\n')
rule_file('when-zero', 'when=0', 'send:error=EAGAIN:when=0\n')
rule_file('dgram-short', 'short on datagram only', 'sendto:short=5:type=dgram\n')
rule_file('nul-byte', 'a NUL byte, which would hide the rules after it', b'send:error=EAGAIN\n\x00recv:bogus\n')
rule_file('net-combo', 'stall with dup cannot combine', 'send:stall=1s:reset\nsend:stall=1s:dup\n')

def main():
    for f in os.listdir(HERE):
        if f.endswith('.env') or f.endswith('.rules'):
            os.remove(os.path.join(HERE, f))
    n = 0
    for name, why, pairs in envs:
        n += 1
        with open(os.path.join(HERE, '%03d-%s.env' % (n, name)), 'w', encoding='latin-1') as f:
            f.write('# %s\n' % why)
            for var, value in pairs:
                f.write('%s=%s\n' % (var, esc(value)))
    for name, why, data in rules:
        n += 1
        with open(os.path.join(HERE, '%03d-%s.rules' % (n, name)), 'wb') as f:
            f.write(data)
    print(n, 'inputs')

main()
