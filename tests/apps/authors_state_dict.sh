#!/bin/bash
# authors_state_dict.sh PROBE WORK none|stacked
# scorelab's PixelCNN++ and the authors' PyTorch layout (bench/authors_pixelcnnpp.py), both directions:
#   1. scorelab's model.pt loads into the authors' module with load_state_dict(strict=True), same output;
#   2. an authors'-style checkpoint (torch.save([state_dict with DataParallel's "module." names, {}]))
#      loads into scorelab (import_state_dict), same output.
set -euo pipefail
probe=$1 work=$2 mode=$3
here=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
"$probe" export "$work" "$mode"
/usr/bin/python3 "$here/bench/authors_pixelcnnpp.py" check "$work"
/usr/bin/python3 "$here/bench/authors_pixelcnnpp.py" write "$work"
out=$("$probe" import "$work" "$mode")
echo "$out"
/usr/bin/python3 -c "import sys; e = float(sys.argv[1].split()[-1]); sys.exit(0 if e < 1e-4 else 1)" "$out"
echo "authors layout ok ($mode)"
