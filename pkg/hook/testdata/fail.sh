#!/bin/sh
echo "checking pool state"
echo "pool is not ready: refusing" >&2
exit 3
