#!/bin/sh
echo "the Persistent Chat pool is not ready for failover" >&2
exit 2
