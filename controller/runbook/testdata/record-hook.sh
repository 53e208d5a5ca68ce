#!/bin/sh
# Appends one line per run to the file named by $1: the event, the plan and
# the data-loss figures, so that tests can count runs and check the environment.
echo "$SQLDR_EVENT $SQLDR_PLAN_ID $SQLDR_DATABASES old=$SQLDR_OLD_PRIMARY new=$SQLDR_NEW_PRIMARY loss=$SQLDR_DATA_LOSS_SECONDS±$SQLDR_DATA_LOSS_UNCERTAINTY_SECONDS fence=$SQLDR_FENCE_INSTANCE" >> "$1"
