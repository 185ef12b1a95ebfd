#!/usr/bin/env bash
# checkpoint_faults.sh CASE WORK EXPECT -- TRAIN_CMD...: runs TRAIN_CMD --method ar --preset tiny --out WORK
# (TRAIN_CMD gives neither flag), damages or mismatches its checkpoint.ckpt according to CASE, then requires
# the resumed run (--resume) to fail through EXPECT (expect_error.sh: status 3, one line naming the checkpoint):
#   other-model   resume with --method ncsn     other-preset  resume with --preset small
#   truncated     checkpoint cut to half        empty         checkpoint of 0 bytes (killed while created)
#   garbage       checkpoint replaced by text  flipped       one byte flipped inside a record (CRC-32 check)
set -u
case_=$1 work=$2 expect=$3
shift 3
[ "$1" = "--" ] && shift
rm -rf "$work"
"$@" --method ar --preset tiny --out "$work" >/dev/null 2>"$work.err" || { echo "FAIL: first run failed: $(cat "$work.err")"; exit 1; }
ckpt=$work/checkpoint.ckpt
[ -f "$ckpt" ] || { echo "FAIL: no $ckpt"; exit 1; }
extra=(--method ar --preset tiny)
case $case_ in
  other-model) extra=(--method ncsn --preset tiny); pattern="checkpoint '$ckpt' was written by .* with different settings" ;;
  other-preset) extra=(--method ar --preset small); pattern="checkpoint '$ckpt' was written by .* with different settings" ;;
  truncated) truncate -s $(( $(stat -c %s "$ckpt") / 2 )) "$ckpt"; pattern="checkpoint '$ckpt' is not a scorelab checkpoint or is truncated" ;;
  empty) : >"$ckpt"; pattern="checkpoint '$ckpt' is empty" ;;
  flipped) python3 -c "import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); i = b.find(b'class Module'); b[i] ^= 0x10; open(p, 'wb').write(b)" "$ckpt"
           pattern="checkpoint '$ckpt' is not a scorelab checkpoint or is truncated or corrupt \(record '.*' fails its CRC-32 check\)" ;;
  garbage) echo "not a checkpoint" >"$ckpt"; pattern="checkpoint '$ckpt' is not a scorelab checkpoint" ;;
  *) echo "FAIL: unknown case $case_"; exit 1 ;;
esac
exec "$expect" 3 "$pattern.*(delete it|rerun)" "$@" "${extra[@]}" --out "$work" --resume
