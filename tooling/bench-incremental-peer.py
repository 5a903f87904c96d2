#!/usr/bin/python3
"""The plain peer of `bp backup vm --mode incremental` in tooling/bench.mjs.

Exports the disk with `qemu-nbd -B <bitmap>`, reads the dirty map from
`qemu:dirty-bitmap:<bitmap>` and copies only the dirty extents into a new qcow2 overlay on the
previous full image, through a second qemu-nbd, with several requests in flight (libnbd's async
API). Both servers are started by libnbd (systemd socket activation) and stopped before the script
exits. Prints one JSON line: {"dirtyBytes", "extents", "requests"}.
Any failed request raises: the script exits non-zero with the error.

Run with /usr/bin/python3 (Debian's python3-libnbd); needs qemu-img and qemu-nbd.
"""
import argparse
import json
import select
import subprocess
import sys

import nbd

# NBD block status covers at most 4 GiB per request (32-bit length); stay granule-aligned below it.
STATUS_SPAN = 4 * 1024**3 - 64 * 1024
DIRTY = 1  # qemu:dirty-bitmap flag of a dirty extent


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--source', required=True, help='qcow2 disk holding the persistent bitmap')
    parser.add_argument('--bitmap', required=True, help='name of the persistent dirty bitmap')
    parser.add_argument('--backing', required=True, help='the previous full image (qcow2)')
    parser.add_argument('--overlay', required=True, help='the qcow2 overlay to create')
    parser.add_argument('--request', type=int, default=2 * 1024 * 1024, help='largest request in bytes')
    parser.add_argument('--depth', type=int, default=16, help='requests in flight')
    return parser.parse_args()


def dirty_extents(handle, context, size):
    """[(offset, length)] of the dirty extents, adjacent ones merged."""
    extents = []
    offset = 0
    while offset < size:
        seen = []

        def extent(metacontext, start, entries, error):
            if metacontext == context:
                seen.append((start, entries))
            return 0

        handle.block_status(min(STATUS_SPAN, size - offset), offset, extent)
        if not seen:
            raise RuntimeError(f'the server sent no {context} extents at offset {offset}')
        at = offset
        for start, entries in seen:
            at = start
            for index in range(0, len(entries), 2):
                length = min(entries[index], size - at)
                if entries[index + 1] & DIRTY and length > 0:
                    if extents and extents[-1][0] + extents[-1][1] == at:
                        extents[-1] = (extents[-1][0], extents[-1][1] + length)
                    else:
                        extents.append((at, length))
                at += length
        if at <= offset:
            raise RuntimeError(f'block status made no progress at offset {offset}')
        offset = at
    return extents


def wait(handles):
    """One poll round over the handles that want I/O; tells libnbd which sockets are ready."""
    poller = select.poll()
    by_fd = {}
    for handle in handles:
        direction = handle.aio_get_direction()
        events = (select.POLLIN if direction & nbd.AIO_DIRECTION_READ else 0) | (select.POLLOUT if direction & nbd.AIO_DIRECTION_WRITE else 0)
        if events:
            fd = handle.aio_get_fd()
            poller.register(fd, events)
            by_fd[fd] = handle
    for fd, revents in poller.poll():
        handle = by_fd[fd]
        if revents & (select.POLLIN | select.POLLHUP | select.POLLERR):
            handle.aio_notify_read()
        elif revents & select.POLLOUT:
            handle.aio_notify_write()


def copy(source, target, extents, request, depth):
    """Copies the extents, `depth` requests in flight: each read, once done, becomes a write."""
    chunks = [(start, min(request, offset + length - start)) for offset, length in extents for start in range(offset, offset + length, request)]
    chunks.reverse()
    reads = {}  # cookie -> (offset, buffer)
    writes = {}  # cookie -> buffer (kept alive until the write completes)
    while chunks or reads or writes:
        while chunks and len(reads) + len(writes) < depth:
            offset, length = chunks.pop()
            buffer = nbd.Buffer(length)
            reads[source.aio_pread(buffer, offset)] = (offset, buffer)
        wait([source, target])
        # aio_command_completed raises nbd.Error for a failed request.
        for cookie in [cookie for cookie in reads if source.aio_command_completed(cookie)]:
            offset, buffer = reads.pop(cookie)
            writes[target.aio_pwrite(buffer, offset)] = buffer
        for cookie in [cookie for cookie in writes if target.aio_command_completed(cookie)]:
            del writes[cookie]
    return sum(1 for offset, length in extents for _ in range(offset, offset + length, request))


def main():
    args = arguments()
    context = f'qemu:dirty-bitmap:{args.bitmap}'
    source = nbd.NBD()
    target = nbd.NBD()
    try:
        source.add_meta_context(context)
        source.connect_systemd_socket_activation(['qemu-nbd', '--read-only', '--format=qcow2', f'--bitmap={args.bitmap}', args.source])
        if not source.can_meta_context(context):
            raise RuntimeError(f'qemu-nbd does not offer {context}')
        size = source.get_size()
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', args.backing, '-F', 'qcow2', args.overlay, str(size)], check=True)
        target.connect_systemd_socket_activation(['qemu-nbd', '--format=qcow2', '--cache=none', '--aio=native', args.overlay])
        extents = dirty_extents(source, context, size)
        requests = copy(source, target, extents, args.request, args.depth)
        target.flush()
        source.shutdown()
        target.shutdown()
    finally:
        # Dropping a handle closes it and ends the qemu-nbd it started.
        del source, target
    print(json.dumps({'dirtyBytes': sum(length for _, length in extents), 'extents': len(extents), 'requests': requests}))


if __name__ == '__main__':
    try:
        main()
    except Exception as error:  # noqa: BLE001 - the bench wants one line and a non-zero exit
        print(f'bench-incremental-peer: {error}', file=sys.stderr)
        sys.exit(1)
