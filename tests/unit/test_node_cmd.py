#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`quorate node` (src/cli/node_cmd.c, N1-N3) against fake nodes: one unix
socket per slot answering `topology`, `topology set E O P` and `topology
stream` as src/server/topo_ctl.c does (C2: STALE below or at the epoch
unless identical; stream only with a change). No root, no cluster (~8 s:
the CLI waits tombstone_grace_ms / 2 + 0.1 s between steps 1 and 2).

Checks: a join runs the three steps on every running slot in order; a
stopped change is resumed at its own epoch (no step resent to a node that
has it); another command while one is in progress is refused (exit 6); a
node left behind at a step 3 is caught up by `node sync` (a member that
is down skipped); a member of the change that does not answer stops the
command (exit 4) before anything is sent; a replacement skips the dead
node; no step 3 is sent while a gainer has partitions left. The
membership register (node_reg.h G1-G3; each fake node is an acceptor as
topo_ctl.h C6 says): both steps are decided by a majority before any node
installs them; a change the register holds but no node installed is in
progress; a rival's higher ballot makes the command retry above it;
without a majority of the slots nothing is decided. Slots named by
address and by zone (cases 19-24): `node add ADDR` takes the slot with
that ip; `node add --zone Z` and `node replace DEAD --zone Z` pick the
lowest running non-member of zone Z; a slot of another zone, an address
no slot has, and --zone on another command are refused before anything
is asked. A plan kept between commands (cases 25-27): `node plan
add|remove|replace` stages without installing, `node plan` shows it,
`node commit` runs it as one change and drops it, a plan whose base the
cluster left is refused, one replace per plan (cases 25-29: refusals
at staging, --zone with a plan, a rerun after step 3, corrupt plans).

   tests/unit/test_node_cmd.py QUORATE_CLI
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

CLI = sys.argv[1]
SLOTS = 5


LOST = (2**64 - 1, 2**64 - 1)  # an acceptor that lost its state (C7)
ALL = []            # the running fake nodes
EARLY_HANDOVERS = []  # step 3 seen while a gainer had partitions left (N3)


def ballot_str(b):
    return f"{b[0]}.{b[1]:016x}"


def ballot_parse(s):
    r, i = s.split(".")
    return (int(r), int(i, 16))


class Node:
    def __init__(self, i, path, epoch=1, owners=0x7, pending=0, streaming=False,
                 reg=None):
        self.i, self.path, self.log = i, path, []
        self.epoch, self.owners, self.pending = epoch, owners, pending
        self.streaming, self.left = streaming, 0
        # The register's acceptor (topo_ctl.h C6): promised, accepted,
        # value; a node from before the register: ballot 0.0, its topology.
        r = reg or {}
        self.promised = r.get("promised", (0, 0))
        self.accepted = r.get("accepted", (0, 0))
        self.value = r.get("value", (epoch, owners, pending))
        self.steal = r.get("steal", 0)  # refuse that many accepts (a rival)
        self.slots = r.get("slots", SLOTS)
        self.accepts = []  # (ballot, value) this acceptor took
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def show(self):
        if self.streaming and self.left:
            self.left -= 1  # the stream progresses as it is polled
        return {"ok": True, "node": self.i, "epoch": self.epoch,
                "owners": hex(self.owners), "pending": hex(self.pending),
                "streaming": self.streaming, "stream_left": self.left,
                "register_lost": self.promised == LOST,
                "shards": []}

    def error(self, name, code, msg):
        return {"ok": False, "node": self.i, "error": name, "code": code,
                "message": msg}

    def reg_show(self, ok=True):
        e, o, p = self.value
        a = {"ok": ok, "node": self.i, "promised": ballot_str(self.promised),
             "accepted": ballot_str(self.accepted), "epoch": e,
             "owners": hex(o), "pending": hex(p)}
        if not ok:
            a.update(error="STALE", code=-7, message="a higher ballot")
        return a

    def register(self, w):
        if w == ["register"]:
            return self.reg_show()
        n = 4 if len(w) > 1 and w[1] == "prepare" else 7
        if len(w) != n or w[1] not in ("prepare", "accept", "learn"):
            return self.error("INVALID_ARGUMENT", -8, "usage")
        if int(w[-1]) != self.slots:  # C8
            return self.error("CONFIG", -24, f"the command's cluster file "
                              f"has {w[-1]} node slots, this node's {self.slots}")
        b = ballot_parse(w[2])
        if self.promised == LOST and w[1] != "learn":  # C7
            return self.error("UNAVAILABLE", -2, "lost its register state")
        if w[1] == "prepare":
            if b < self.promised:
                return self.reg_show(False)
            self.promised = b
            return self.reg_show()
        v = (int(w[3]), int(w[4], 16), int(w[5], 16))
        if self.promised == LOST:  # C7, R5: a learn brings it back
            self.promised, self.accepted, self.value = (b[0] + 2**32, 0), b, v
            return self.reg_show()
        if self.steal:  # a rival proposer promised above it meanwhile
            self.steal -= 1
            self.promised = (b[0] + 1, 1)
        if b < self.promised or (b == self.accepted and v != self.value):
            return self.reg_show(False)  # R1
        self.promised = self.accepted = b
        self.value = v
        self.accepts.append((b, v))
        return self.reg_show()

    def topo_log(self):
        return [x for x in self.log if x.startswith("topology")]

    def command(self, line):
        self.log.append(line)
        w = line.split()
        if w[:1] == ["register"]:
            return self.register(w)
        if w == ["topology"]:
            return self.show()
        if w[:2] == ["topology", "set"] and len(w) == 5:
            e, o, p = int(w[2]), int(w[3], 16), int(w[4], 16)
            if (e, o, p) == (self.epoch, self.owners, self.pending):
                return self.show()
            if e <= self.epoch:
                return self.error("STALE", -7, f"epoch {e} is not above {self.epoch}")
            if (e, o, p) != self.value:  # C6: only the register's value
                return self.error("PRECONDITION_FAILED", -4, "not the register's")
            if not p and any(n.streaming and n.left for n in ALL):
                EARLY_HANDOVERS.append((self.i, line))
            self.epoch, self.owners, self.pending = e, o, p
            self.streaming, self.left = False, 0
            return self.show()
        if w == ["topology", "stream"]:
            if not self.pending:
                return self.error("PRECONDITION_FAILED", -4, "no change")
            if not self.streaming:
                self.streaming = True
                gains = (self.pending >> self.i & 1) and not (self.owners >> self.i & 1)
                self.left = 3 if gains else 0
            return self.show()
        return self.error("INVALID_ARGUMENT", -8, "unknown")

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                line = c.makefile().readline().strip()
                c.sendall((json.dumps(self.command(line)) + "\n").encode())

    def stop(self):
        # Wake the thread blocked in accept() and wait for it: closing
        # alone leaves it blocked on the fd number, which the next node's
        # socket may reuse, and the old node would then answer for it
        # (seen under load: a node of the case before, at its epoch).
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), f"node {self.i} still serves"
        self.sock.close()
        os.unlink(self.path)


tmp = tempfile.mkdtemp(prefix="qr-node-cmd-")
ini = os.path.join(tmp, "c.ini")
with open(ini, "w") as f:
    f.write("[cluster]\nid = 9\nauth = none\ntombstone_grace_ms = 2000\n"
            "members = 0,1,2\n")
    for i in range(SLOTS):
        f.write(f"[node.{i}]\nip = 10.0.0.{i + 1}\nmgmt = {tmp}/n{i}.sock\n")
fails = 0


def cluster(states):
    """states: per slot, None (not running) or Node kwargs."""
    nodes = [Node(i, f"{tmp}/n{i}.sock", **s) if s is not None else None
             for i, s in enumerate(states)]
    ALL[:] = [n for n in nodes if n]
    return nodes


def down(nodes):
    for n in nodes:
        if n:
            n.stop()


# The plan goes next to the cluster file in tmp, never to an operator's
# $QUORATE_PLAN.
ENV = {k: v for k, v in os.environ.items() if k != "QUORATE_PLAN"}


def run(*args, conf=None):
    p = subprocess.run([CLI, "--cluster", conf or ini, *args],
                       capture_output=True, text=True, timeout=60, env=ENV)
    return p.returncode, p.stdout, p.stderr


def check(what, cond, detail=""):
    global fails
    if cond:
        print(f"ok: {what}")
    else:
        fails += 1
        print(f"FAIL: {what}\n{detail}")


def final(nodes, epoch, owners):
    return all(n.epoch == epoch and n.owners == owners and not n.pending
               for n in nodes if n)


# 1. A join: steps 1, 2, 3 on every running slot, in order.
nodes = cluster([{}] * SLOTS)
rc, out, err = run("node", "add", "3")
check("node add 3 exits 0 with epoch 3, members 0,1,2,3",
      rc == 0 and "epoch 3, members 0,1,2,3" in out, out + err)
check("every node ends at epoch 3, owners 0xf", final(nodes, 3, 0xf))
# step 1, a survey again (a slot started since gets step 1), the stream,
# ... a survey again before the hand-over, step 3
want = ["topology", "topology set 2 7 f", "topology", "topology stream"]
check("each node got step 1 then the stream then step 3",
      all(n.topo_log()[:4] == want and
          n.topo_log()[-2:] == ["topology", "topology set 3 f 0"]
          for n in nodes), "\n".join(str(n.log) for n in nodes))
check("the register decided both steps: every node's acceptor holds "
      "epoch 3 and was asked to prepare and accept",
      all(n.value == (3, 0xf, 0) and
          any(x.startswith("register prepare") for x in n.log) and
          sum(x.startswith("register accept") for x in n.log) >= 2
          for n in nodes), "\n".join(str(n.log) for n in nodes))
check("the stream's progress was polled and shown",
      "streaming: 0 partition(s) left" in err, err)
down(nodes)

# 2. Resume a change stopped after the stream began on some nodes: the
# nodes at epoch 2 get no step 1 again; the one at 1 does.
chg = {"epoch": 2, "owners": 0x7, "pending": 0xf}
reg2 = {"accepted": (1, 5), "promised": (1, 5), "value": (2, 0x7, 0xf)}
nodes = cluster([dict(chg, streaming=True), chg, chg, dict(chg), {"reg": reg2}])
rc, out, err = run("node", "add", "3")
check("a stopped change is resumed", rc == 0 and final(nodes, 3, 0xf),
      out + err)
check("no step 1 resent to a node that has it",
      all("topology set 2 7 f" not in n.topo_log() for n in nodes[:4]) and
      "topology set 2 7 f" in nodes[4].log,
      "\n".join(str(n.log) for n in nodes))
down(nodes)

# 3. Another command while a change is in progress: refused, nothing sent.
nodes = cluster([chg, chg, chg, chg, {}])
rc, out, err = run("node", "add", "4")
check("node add 4 during 0,1,2 -> 0,1,2,3 is refused (exit 6)",
      rc == 6 and "in progress" in err and
      all(n.topo_log() == ["topology"] for n in nodes if n), out + err)
down(nodes)

# 4. A node left behind by a step 3 is caught up by `node sync`.
done = {"epoch": 3, "owners": 0xf}
nodes = cluster([done, done, chg, done, {}])
rc, out, err = run("node", "sync")
check("node sync catches a node up to the newest topology",
      rc == 0 and final(nodes, 3, 0xf) and
      nodes[2].topo_log()[-1] == "topology set 3 f 0", out + err)
down(nodes)

# 5. A member that does not answer stops the command before anything
# is sent (N1).
nodes = cluster([{}, {}, None, {}, {}])
rc, out, err = run("node", "add", "3")
check("a member down stops the change (exit 4, named), nothing sent",
      rc == 4 and "node 2" in err and
      all(n.topo_log() == ["topology"] for n in nodes if n) and
      all(n.value == (1, 0x7, 0) for n in nodes if n), out + err)
down(nodes)

# 6. A replacement skips the dead node and ends without it.
nodes = cluster([{}, None, {}, {}, {}])
rc, out, err = run("node", "replace", "1", "4")
check("node replace 1 4 with node 1 dead",
      rc == 0 and final(nodes, 3, 0x15) and "node 1: not running" in err,
      out + err)
down(nodes)

# 7. `node sync` with a member down: the others are caught up, it is noted.
nodes = cluster([done, None, chg, done, {}])
rc, out, err = run("node", "sync")
check("node sync skips a member that is down",
      rc == 0 and final(nodes, 3, 0xf) and "node 1: not running" in err,
      out + err)
down(nodes)

# 8. Two nodes hold different topologies at the newest epoch (two
# commands raced): refused, nothing sent.
other = {"epoch": 2, "owners": 0x7, "pending": 0x17}
nodes = cluster([chg, other, chg, {}, {}])
rc, out, err = run("node", "add", "3")
check("different topologies at one epoch: refused (exit 6), nothing sent",
      rc == 6 and "different topologies" in err and
      all(n.log == ["topology"] for n in nodes if n), out + err)
down(nodes)

# 10. The register is the truth: a change another command decided and
# stopped before any node installed it is in progress, whatever the
# nodes' topologies say; only that change's command resumes it.
reg4 = {"accepted": (3, 9), "promised": (3, 9), "value": (2, 0x7, 0x17)}
nodes = cluster([{"reg": reg4}, {"reg": reg4}, {"reg": reg4}, {}, {}])
rc, out, err = run("node", "add", "3")
check("a change decided in the register but installed nowhere is in "
      "progress: node add 3 refused (exit 6)",
      rc == 6 and "to 0,1,2,4 is in progress" in err and
      all(n.topo_log() == ["topology"] for n in nodes), out + err)
rc, out, err = run("node", "add", "4")
check("its own command resumes it: node add 4 ends at epoch 3, 0,1,2,4",
      rc == 0 and final(nodes, 3, 0x17) and
      all(n.value == (3, 0x17, 0) for n in nodes), out + err)
down(nodes)

# 11. A rival proposer promises a higher ballot between our prepare and
# accept (G1): the command begins again above it and decides.
nodes = cluster([{"reg": {"steal": 1}}] * 3 + [{}, {}])
rc, out, err = run("node", "add", "3")
prepares = [x for x in nodes[0].log if x.startswith("register prepare")]
check("refused by a higher ballot, the command retries above it",
      rc == 0 and final(nodes, 3, 0xf) and len(prepares) >= 2 and
      ballot_parse(prepares[1].split()[2])[0] >= 3, out + err + str(prepares))
down(nodes)

# 12. No majority of the slots answers: nothing can be decided (exit 4).
nodes = cluster([{}, {}, None, None, None])
rc, out, err = run("node", "sync")
check("without a majority of the slots the register refuses (exit 4)",
      rc == 4 and "majority of the 5" in err and
      all(n.topo_log() == ["topology"] for n in nodes if n), out + err)
down(nodes)

# 13. Several members in one command: one change, one decision.
nodes = cluster([{}] * SLOTS)
rc, out, err = run("node", "add", "3", "4")
check("node add 3 4: one change to members 0..4 (epoch 3)",
      rc == 0 and final(nodes, 3, 0x1f) and
      all("topology set 2 7 1f" in n.topo_log() for n in nodes), out + err)
rc, out, err = run("node", "remove", "0", "1", "2")
check("node remove 0 1 2 would leave 2 members < RF: refused (exit 6)",
      rc == 6 and "fewer members" in err and final(nodes, 3, 0x1f),
      out + err)
down(nodes)

# 14. A command decides three values (the read, step 1, step 3): each at
# a ballot above the last (R4). A slot that was silent at the hand-over
# (it holds step 1's value) must not bring step 1 back at the next sync.
class Flaky(Node):
    """Closes without answering while silent (the CLI sees it down)."""
    silent, topos = False, 0

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                line = c.makefile().readline().strip()
                if line == "topology":
                    self.topos += 1
                    self.silent = self.silent or self.topos == 3
                if not self.silent:
                    c.sendall((json.dumps(self.command(line)) + "\n").encode())


def one_value_per_ballot(nodes):
    seen = {}
    for n in nodes:
        for b, v in n.accepts:
            seen.setdefault(b, set()).add(v)
    return all(len(v) == 1 for v in seen.values())


st = dict(epoch=1, owners=0xe)
nodes = [Flaky(0, f"{tmp}/n0.sock", **st)] + \
    [Node(i, f"{tmp}/n{i}.sock", **st) for i in range(1, SLOTS)]
ALL[:] = nodes
rc, out, err = run("node", "add", "4")
ok_add = rc == 0 and all(n.epoch == 3 for n in nodes[1:])
nodes[0].silent = False  # back, holding step 1's value
rc2, out2, err2 = run("node", "sync")
check("a slot silent at the hand-over does not undo it: node sync ends "
      "at epoch 3, members 1,2,3,4, one value per ballot",
      ok_add and rc2 == 0 and final(nodes, 3, 0x1e) and
      all(n.value == (3, 0x1e, 0) for n in nodes) and
      one_value_per_ballot(nodes),
      out + err + out2 + err2 + "\n".join(str(n.accepts) for n in nodes))
down(nodes)

# 15. After an upgrade every slot's value is at ballot 0: the read folds
# in every slot's answer and builds on the newest, wherever it is.
ini7 = os.path.join(tmp, "c7.ini")
with open(ini7, "w") as f:
    f.write("[cluster]\nid = 9\nauth = none\ntombstone_grace_ms = 2000\n"
            "members = 4,5,6\n")
    for i in range(7):
        f.write(f"[node.{i}]\nip = 10.0.0.{i + 1}\nmgmt = {tmp}/m{i}.sock\n")
old7, new7 = dict(epoch=1, owners=0x70), dict(epoch=7, owners=0x70)
nodes = [Node(i, f"{tmp}/m{i}.sock", **(old7 if i < 4 else new7),
              reg={"slots": 7}) for i in range(7)]
ALL[:] = nodes
p7 = subprocess.run([CLI, "--cluster", ini7, "node", "sync"],
                    capture_output=True, text=True, timeout=60)
check("after an upgrade the register builds on the newest epoch (7), "
      "though slots 0..3 (epoch 1) answer first",
      p7.returncode == 0 and final(nodes, 7, 0x70) and
      all(n.value == (7, 0x70, 0) for n in nodes), p7.stdout + p7.stderr)
down(nodes)

# 16. A node that lost its register state (--rebuild: C7) promises and
# accepts nothing; node sync decides without it and it rejoins by a learn.
done = {"epoch": 3, "owners": 0xf,
        "reg": {"accepted": (4, 9), "promised": (4, 9), "value": (3, 0xf, 0)}}
lost = {"epoch": 1, "owners": 0x7,
        "reg": {"promised": LOST, "value": (1, 0x7, 0)}}
nodes = cluster([done, lost, done, done, done])
rc, out, err = run("node", "sync")
check("a node that lost its register rejoins by a learn at node sync",
      rc == 0 and final(nodes, 3, 0xf) and nodes[1].promised != LOST and
      nodes[1].value == (3, 0xf, 0) and
      any(x.startswith("register learn") for x in nodes[1].log) and
      not nodes[1].accepts, out + err + str(nodes[1].log))
down(nodes)
# ... and one that caught up by itself (a peer's news, T7) holds the
# topology already: it still gets the learn, and no topology set.
lost_news = dict(lost, epoch=3, owners=0xf)
nodes = cluster([done, lost_news, done, done, done])
rc, out, err = run("node", "sync")
check("a lost register whose node already holds the topology (T7) is "
      "given the learn, and no topology set",
      rc == 0 and final(nodes, 3, 0xf) and nodes[1].promised != LOST and
      nodes[1].value == (3, 0xf, 0) and
      any(x.startswith("register learn") for x in nodes[1].log) and
      not any(x.startswith("topology set") for x in nodes[1].log),
      out + err + str(nodes[1].log))
down(nodes)

# 17. Acceptors whose cluster file has another slot count refuse (C8).
nodes = cluster([{"reg": {"slots": 6}}] * SLOTS)
rc, out, err = run("node", "sync")
check("another slot count: refused CONFIG (exit 2), nothing decided",
      rc == 2 and "node slots" in err and
      all(n.value == (1, 0x7, 0) and n.accepted == (0, 0) for n in nodes),
      out + err)
down(nodes)

# 18. A change whose new member died before the hand-over: its own
# command cannot finish (exit 4), `node abort` takes it back to O.
reg2all = {"accepted": (1, 5), "promised": (1, 5), "value": (2, 0x7, 0xf)}
nodes = cluster([dict(chg, reg=reg2all)] * 3 + [None, {"reg": reg2all}])
rc, out, err = run("node", "add", "3")
check("node add 3 with node 3 dead mid-change: exit 4", rc == 4, out + err)
rc, out, err = run("node", "abort")
check("node abort: back to members 0,1,2 at epoch 3, decided first",
      rc == 0 and final(nodes, 3, 0x7) and
      all(n.value == (3, 0x7, 0) for n in nodes if n), out + err)
rc, out, err = run("node", "abort")
check("node abort with no change in progress changes nothing",
      rc == 0 and "no change in progress" in err and final(nodes, 3, 0x7),
      out + err)
down(nodes)

# 9. `quorate ring` reads the nodes' topology (the highest epoch), shows
# the change in progress and a gainer's stream progress; a node that does
# not answer is down; with none answering, the cluster file's members.
nodes = cluster([chg, chg, chg, dict(chg, streaming=True), None])
nodes[3].left = 100  # its next answer says 99
rc, out, err = run("--json", "ring")
r = json.loads(out) if rc == 0 and out.strip() else {}
ns = r.get("nodes", [{}] * SLOTS)
check("ring --json: the nodes' epoch, owners, pending; node 3's stream",
      r.get("source") == "nodes" and r.get("epoch") == 2 and
      r.get("owners") == "0x7" and r.get("pending") == "0xf" and
      r.get("answered") == 4 and ns[3].get("gains", 0) > 0 and
      ns[3].get("stream_left") == 99 and ns[3].get("streaming") is True and
      ns[0].get("gains") == 0 and ns[4].get("up") is False and
      ns[3].get("replica_of") == 0 and ns[3].get("replica_of_after", 0) > 0,
      out + err)
gains = ns[3].get("gains")
rc, out, err = run("ring")
check("ring: epoch, the change, a gainer's progress, a node down",
      rc == 0 and "epoch 2, members 0,1,2 (node 0's topology; 4 of 5" in out
      and "change in progress: to members 0,1,2,3" in out and
      f"stream 98 of {gains} left" in out and
      out.splitlines()[-1].endswith("down"), out + err)
rc, out, err = run("ring", "some-key")
check("ring KEY during a change: the replicas after it too",
      rc == 0 and "after the change in progress:" in out, out + err)
down(nodes)
nodes = cluster([None] * SLOTS)
rc, out, err = run("ring")
check("ring with no node answering: the cluster file's members",
      rc == 0 and "members 0,1,2, from the cluster file" in out, out + err)

# 19-24. Slots by address and by zone: the same slots, with zones a b a b
# a (members 0,1,2; slot 3 in zone b, slot 4 in zone a).
zini = os.path.join(tmp, "z.ini")
with open(zini, "w") as f:
    f.write("[cluster]\nid = 9\nauth = none\ntombstone_grace_ms = 2000\n"
            "members = 0,1,2\n")
    for i, zn in enumerate("ababa"):
        f.write(f"[node.{i}]\nip = 10.0.0.{i + 1}\nmgmt = {tmp}/n{i}.sock\n"
                f"zone = {zn}\n")


def untouched(nodes):
    return all(not n.log for n in nodes if n)


nodes = cluster([{}] * SLOTS)
rc, out, err = run("node", "add", "10.0.0.4", conf=zini)
check("node add ADDR: the slot with that ip (3) joins",
      rc == 0 and "epoch 3, members 0,1,2,3" in out and
      final(nodes, 3, 0xf), out + err)
down(nodes)
nodes = cluster([{}] * SLOTS)
rc, out, err = run("node", "add", "--zone", "a", conf=zini)
check("node add --zone a: the lowest running non-member of zone a (4)",
      rc == 0 and "slot 4 (10.0.0.5) in zone 'a'" in err and
      final(nodes, 3, 0x17), out + err)
down(nodes)
nodes = cluster([{}, {}, {}, None, {}])
rc, out, err = run("node", "add", "--zone", "b", conf=zini)
check("node add --zone b with zone b's only spare down: exit 4, nothing "
      "decided", rc == 4 and "no running slot in zone 'b'" in err and
      all(n.value == (1, 0x7, 0) and n.epoch == 1 for n in nodes if n),
      out + err)
down(nodes)
nodes = cluster([{}] * SLOTS)
rc, out, err = run("node", "add", "10.0.0.5", "--zone", "b", conf=zini)
check("node add ADDR --zone Z with the slot in another zone: exit 1, "
      "nothing asked", rc == 1 and "node 4 is in zone 'a', not 'b'" in err
      and untouched(nodes), out + err)
rc, out, err = run("node", "add", "10.9.9.9", conf=zini)
check("node add ADDR with no slot at ADDR: exit 1, named, nothing asked",
      rc == 1 and "no slot of the cluster file has address 10.9.9.9" in err
      and untouched(nodes), out + err)
rc, out, err = run("node", "add", "--zone", "c", conf=zini)
check("node add --zone Z with no slot in zone Z: exit 1, nothing asked",
      rc == 1 and "no slot of the cluster file is in zone 'c'" in err and
      untouched(nodes), out + err)
rc1, _, err1 = run("node", "remove", "2", "--zone", "a", conf=zini)
rc2, _, err2 = run("get", "k", "--zone", "a", conf=zini)
check("--zone elsewhere than node add / replace: exit 1, nothing asked",
      rc1 == 1 and rc2 == 1 and "--zone goes with" in err1 + err2 and
      untouched(nodes), err1 + err2)
down(nodes)
nodes = cluster([{}, None, {}, {}, {}])
rc, out, err = run("node", "replace", "1", "--zone", "b", conf=zini)
check("node replace 1 --zone b with node 1 dead: slot 3 takes its place",
      rc == 0 and "slot 3 (10.0.0.4) in zone 'b'" in err and
      final(nodes, 3, 0xd), out + err)
down(nodes)

# 25. A plan kept between commands (node_plan.h): staged changes ask
# the register but install nothing; `node plan` shows the members and
# what moves; `node commit` runs them as one change and drops the plan.
plan = ini + ".plan"
nodes = cluster([{}] * SLOTS)
rc1, out1, err1 = run("node", "plan", "add", "3")
rc2, out2, err2 = run("node", "plan", "add", "4")
check("node plan add 3, node plan add 4: planned 0,1,2 -> 0,1,2,3,4, "
      "nothing installed", rc1 == 0 and rc2 == 0 and
      "members 0,1,2 -> 0,1,2,3,4" in out2 and os.path.exists(plan) and
      all(n.epoch == 1 and "topology set" not in n.topo_log()
          for n in nodes), out1 + err1 + out2 + err2)
rc, out, err = run("node", "plan")
moved = [l for l in out.splitlines() if "partition replicas move" in l]
check("node plan shows the plan, the joining nodes and the replicas "
      "that move", rc == 0 and "members 0,1,2 -> 0,1,2,3,4, from epoch 1"
      in out and out.count("(joins)") == 2 and moved and
      not moved[0].startswith("0 of"), out + err)
rc, out, err = run("node", "commit")
check("node commit: one change to members 0..4 (epoch 3), plan dropped",
      rc == 0 and final(nodes, 3, 0x1f) and
      all("topology set 2 7 1f" in n.topo_log() for n in nodes) and
      not os.path.exists(plan), out + err)
rc, out, err = run("node", "commit")
check("node commit with no plan: exit 6", rc == 6 and "no plan" in err,
      out + err)
down(nodes)

# 26. A replace and an add in one plan; a second replace is refused.
nodes = cluster([{}, None, {}, {}, {}])
rc1, out1, err1 = run("node", "plan", "replace", "1", "3")
rc2, out2, err2 = run("node", "plan", "replace", "2", "4")
rc3, out3, err3 = run("node", "plan", "add", "4")
check("plan: replace 1 by 3, add 4 (a second replace refused: exit 6)",
      rc1 == 0 and rc2 == 6 and "one replace per plan" in err2 and
      rc3 == 0 and "members 0,1,2 -> 0,2,3,4" in out3, out1 + err1 + err2
      + out3 + err3)
rc, out, err = run("node", "commit")
check("node commit of a replace and an add with node 1 dead: members "
      "0,2,3,4 at epoch 3", rc == 0 and final(nodes, 3, 0x1d) and
      not os.path.exists(plan), out + err)
down(nodes)

# 27. A plan whose base the cluster left (another command ran): refused,
# nothing sent; `node plan clear` drops it.
nodes = cluster([{}] * SLOTS)
rc1, _, err1 = run("node", "plan", "add", "3")
rc2, _, err2 = run("node", "add", "4")
rc, out, err = run("node", "commit")
check("node commit after the cluster changed: exit 6, nothing sent",
      rc1 == 0 and rc2 == 0 and rc == 6 and "changed since the plan" in err
      and final(nodes, 3, 0x17) and
      all("topology set 4" not in n.topo_log() for n in nodes),
      err1 + err2 + out + err)
rc, out, err = run("node", "plan", "add", "3")
check("node plan add on a plan the cluster left: exit 6",
      rc == 6 and "changed since the plan" in err, out + err)
rc1, out1, _ = run("node", "plan", "clear")
rc2, out2, _ = run("node", "plan")
check("node plan clear drops it; node plan then says there is none",
      rc1 == 0 and rc2 == 0 and "no plan" in out2 and
      not os.path.exists(plan), out1 + out2)
down(nodes)

# 28. Staging refuses what would not be a plan (PL2, PL3): the replaced
# node added back, a replace of a node the plan removes; a change the
# plan already has is not saved again; --zone picks no slot the plan
# removes.
nodes = cluster([{}, None, {}, {}, {}])
rc1, _, err1 = run("node", "plan", "replace", "1", "3")
with open(plan) as f:
    before = f.read()
rc2, _, err2 = run("node", "plan", "add", "1")
rc3, _, err3 = run("node", "plan", "add", "3")
with open(plan) as f:
    after = f.read()
check("plan replace 1 3, then add 1: refused (exit 6), the plan unchanged; "
      "add 3 again: nothing to change", rc1 == 0 and rc2 == 6 and
      "not saved" in err2 and rc3 == 0 and "nothing to change" in err3 and
      before == after, err1 + err2 + err3)
run("node", "plan", "clear")
rc1, _, err1 = run("node", "plan", "add", "3")
rc2, _, err2 = run("node", "plan", "remove", "2")
rc3, _, err3 = run("node", "plan", "replace", "2", "3")
rc4, _, err4 = run("node", "plan", "replace", "2", "4")
check("plan add 3, remove 2, then replace 2 3 or 2 4: refused (exit 6), "
      "2 is no member of the plan", rc1 == 0 and rc2 == 0 and rc3 == 6 and
      "not a member of the plan" in err3 and rc4 == 6 and
      "DEAD_ID is not a member" in err4, err1 + err2 + err3 + err4)
run("node", "plan", "clear")
down(nodes)
nodes = cluster([{}] * SLOTS)
rc1, _, _ = run("node", "plan", "add", "4", conf=zini)
rc2, _, _ = run("node", "plan", "remove", "2", conf=zini)
rc3, out3, err3 = run("node", "plan", "add", "--zone", "a", conf=zini)
check("with 4 added and 2 removed in the plan, plan add --zone a finds no "
      "slot of zone a (2 is the plan's to remove): exit 4, plan kept",
      rc1 == 0 and rc2 == 0 and rc3 == 4 and
      "no running slot in zone 'a'" in err3, out3 + err3)
rc, out, _ = run("--json", "node", "plan", conf=zini)
check("node plan --json: members as arrays",
      rc == 0 and json.loads(out)["plan"]["to"] == [0, 1, 4], out)
run("node", "plan", "clear", conf=zini)
down(nodes)

# 29. A commit that stopped after its step 3 was decided (the register at
# epoch 3 with the plan's members, node 2 still at epoch 2): the rerun
# catches node 2 up before it reports the plan done, then drops it.
reg3 = {"accepted": (3, 9), "promised": (3, 9), "value": (3, 0xf, 0)}
st3 = {"epoch": 3, "owners": 0xf, "reg": reg3}
nodes = cluster([st3, st3, {"epoch": 2, "owners": 0x7, "pending": 0xf,
                            "streaming": True, "reg": reg3}, st3, {}])
with open(plan, "w") as f:
    f.write('{"cluster_id":9,"base_epoch":1,"base_owners":"7","to":"f",'
            '"dead":-1}\n')
rc, out, err = run("node", "commit")
check("node commit after its step 3: node 2 caught up to epoch 3, plan "
      "done and dropped", rc == 0 and final(nodes, 3, 0xf) and
      "plan done" in err and not os.path.exists(plan), out + err)
down(nodes)
for bad in ['{"cluster_id":9,"base_epoch":1,"base_owners":"7","to":"f,zz",'
            '"dead":-1}', '{"cluster_id":9,"base_epoch":1,"base_owners":'
            '"7","to":"f","dead":"1"}', '{"cluster_id":9,"base_epoch":-1,'
            '"base_owners":"7","to":"f","dead":-1}']:
    with open(plan, "w") as f:
        f.write(bad)
    rc, out, err = run("node", "plan")
    check(f"a corrupt plan is refused (exit 2): {bad}",
          rc == 2 and "not a plan of this cluster" in err, out + err)
run("node", "plan", "clear")

check("no step 3 while a gainer had partitions left (N3)",
      not EARLY_HANDOVERS, str(EARLY_HANDOVERS))
shutil.rmtree(tmp, ignore_errors=True)
print("test_node_cmd:", "all cases passed" if not fails else f"{fails} failed")
sys.exit(1 if fails else 0)
