# Reads a node's live stats region (/dev/shm/inferd-live-<port>-<netns>, include/inferd/live_stats.h)
# from Python, as any other language would: map it read-only, check the header, copy each
# record with the seqlock (seq, words, seq again; retry while odd or changed).
import mmap
import os
import struct

MAGIC = b"INFDLIVE"
VERSION = 1
HEADER_WORDS, MODEL_WORDS, WORKER_WORDS = 64, 48, 16
SEQ_WORD = 16
TRIES = 100000

MODEL_FIELDS = ("requests_ok ok_ns requests_failed failed_ns requests_rejected "
                "requests_cancelled batches batch_rows batches_retried queue_count queue_ns "
                "compute_ns queue_len queue_rows batches_in_flight rows_in_flight workers_live "
                "workers_starting workers_stopping workers_min workers_max worker_spawns "
                "restart_backoff_ms rows_per_s_milli arena_used arena_size").split()
WORKER_FIELDS = ("model index pid state in_hand batches_done requests_done heartbeat_age_ns "
                 "age_ns").split()
HEADER_FIELDS = ("publishes published_unix_ns published_mono_ns models_used workers_used "
                 "node_state").split()


def path_for_port(port, netns_inode=None):
    """The region of the node on port in the network namespace whose /proc/.../ns/net has
    that inode (default: this process's namespace)."""
    if netns_inode is None:
        try:
            netns_inode = os.stat("/proc/self/ns/net").st_ino
        except OSError:
            return "/dev/shm/inferd-live-%d" % port
    return "/dev/shm/inferd-live-%d-%d" % (port, netns_inode)


def _seq_read(mm, off, nwords):
    for _ in range(TRIES):
        s1 = struct.unpack_from("<Q", mm, off)[0]
        if s1 & 1:
            continue
        words = struct.unpack_from("<%dq" % nwords, mm, off)
        if struct.unpack_from("<Q", mm, off)[0] == s1:
            return words
    raise TimeoutError("live stats record kept busy")


class Region:
    def __init__(self, path):
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            self.mm = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        if size < HEADER_WORDS * 8 or self.mm[:8] != MAGIC:
            raise ValueError("not a live stats region")
        c = struct.unpack_from("<%dQ" % SEQ_WORD, self.mm, 0)
        (self.version, hsize, msize, self.model_slots, wsize, self.worker_slots, self.pid,
         self.port, self.start_unix_ns, self.period_ms, self.models_off, self.workers_off,
         total) = c[1:14]
        if (self.version != VERSION or hsize != HEADER_WORDS * 8 or msize != MODEL_WORDS * 8
                or wsize != WORKER_WORDS * 8 or total > size
                or self.workers_off + self.worker_slots * wsize != total):
            raise ValueError("live stats header does not fit")

    def close(self):
        self.mm.close()

    def snapshot(self):
        """{"header": {...}, "models": [{...}], "workers": [{...}]}, each record consistent."""
        h = dict(zip(HEADER_FIELDS, _seq_read(self.mm, SEQ_WORD * 8, HEADER_WORDS - SEQ_WORD)[1:]))
        h.update(pid=self.pid, port=self.port)
        models = []
        for i in range(min(h["models_used"], self.model_slots)):
            w = _seq_read(self.mm, self.models_off + i * MODEL_WORDS * 8, MODEL_WORDS)
            name = struct.pack("<8q", *w[1:9]).split(b"\0")[0].decode()
            rec = dict(zip(MODEL_FIELDS, w[11:11 + len(MODEL_FIELDS)]))
            rec.update(name=name, version=w[9], ready=w[10], seq=w[0])
            models.append(rec)
        workers = []
        for i in range(min(h["workers_used"], self.worker_slots)):
            w = _seq_read(self.mm, self.workers_off + i * WORKER_WORDS * 8, WORKER_WORDS)
            workers.append(dict(zip(WORKER_FIELDS, w[1:1 + len(WORKER_FIELDS)])))
        return {"header": h, "models": models, "workers": workers}
