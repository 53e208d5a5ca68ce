#!/bin/sh
i=0
while [ $i -lt 2000 ]; do
  echo "line $i of a very chatty hook output that goes on and on"
  i=$((i+1))
done
