"""The bad-input suite: every kind of bad input the product meets, its answer, and its tests.

Each kind names the tests that show its answer (node ids under `inventory_pipelines_tests/`,
a module standing for all its tests); each of them carries the `bad_input` marker, so
`pytest -m bad_input` runs the suite. The README's *Bad input: what is refused, and how* lists
the same kinds (`test_registry.py` holds the two together, and `readme_table()` writes it).
"""

from __future__ import annotations

from dataclasses import dataclass

AREAS = ("odoo data", "channel payload", "webhook", "rule file", "environment", "cli argument")
ANSWERS = (
    "error naming the input",
    "quarantine row",
    "dead letter",
    "4xx",
    "503",  # the ledger cannot take it now: the channel delivers again
    "stored once",  # a duplicate: counted, never a second order
)


@dataclass(frozen=True)
class Kind:
    """One kind of bad input: where it comes in, what it is, how it is answered, what is kept."""

    id: str
    area: str  # one of AREAS
    input: str
    answer: str  # one of ANSWERS
    says: str  # the answer itself: the status, the message, the reason
    kept: str  # what is kept of the bad input, and what goes on beside it
    tests: tuple[str, ...]


KINDS: tuple[Kind, ...] = (
    # --- odoo data --------------------------------------------------------------------------
    Kind(
        "odoo-product-without-code",
        "odoo data",
        "a quant of a product with no `default_code` (Odoo's `False`, or blanks)",
        "quarantine row",
        "`missing_sku`",
        "the quant and its quantity in `inventory/quarantine`; the other products go on",
        (
            "inventory/test_canonical_frames.py::test_a_quant_that_cannot_be_normalized_is_quarantined_with_its_reason",
            "inventory/test_canonical_versions.py::test_archived_products_and_missing_codes_are_quarantined_with_their_stock",
            "odoo/test_snapshot.py::test_a_default_code_of_blanks_is_no_sku",
        ),
    ),
    Kind(
        "odoo-duplicate-code",
        "odoo data",
        "two products with one `default_code`",
        "quarantine row",
        "`duplicate_sku`, naming the code; never merged",
        "both products' quants in the quarantine",
        (
            "inventory/test_canonical_frames.py::test_a_sku_used_by_two_products_is_quarantined_for_both_not_merged",
        ),
    ),
    Kind(
        "odoo-negative-quant",
        "odoo data",
        "a negative on-hand, quality-hold or in-transit sum (sold before received)",
        "quarantine row",
        "`negative_on_hand` (and kin), counted as 0",
        "the negative figure in the quarantine; the SKU published at 0, never below",
        (
            "inventory/test_canonical_frames.py::test_a_negative_on_hand_is_reported_and_counted_as_zero",
        ),
    ),
    Kind(
        "odoo-unknown-uom",
        "odoo data",
        "a product in a unit of measure with no known conversion (or units Odoo will not show)",
        "quarantine row",
        "`unknown_uom`, naming the unit",
        "the quant in the quarantine; no guessed conversion",
        (
            "inventory/test_canonical_frames.py::test_a_quant_that_cannot_be_normalized_is_quarantined_with_its_reason",
            "odoo/test_snapshot.py::test_unknown_or_unreadable_units_leave_the_uom_columns_null",
        ),
    ),
    Kind(
        "odoo-archived-or-consumable-with-stock",
        "odoo data",
        "stock of an archived product, or of a consumable",
        "quarantine row",
        "`archived_product`, `not_storable`",
        "the quant in the quarantine; nothing offered for it",
        (
            "inventory/test_canonical_frames.py::test_a_quant_that_cannot_be_normalized_is_quarantined_with_its_reason",
            "inventory/test_canonical_versions.py::test_the_demo_catalog_dirt_is_quarantined_with_reasons",
        ),
    ),
    Kind(
        "odoo-unattributable-quant",
        "odoo data",
        "a quant of a product or location the snapshot does not have, in a location of no "
        "warehouse, or in a transit location no rule binds",
        "quarantine row",
        "`unknown_product`, `unknown_location`, `location_without_warehouse`, "
        "`transit_location_without_rule`",
        "the quant in the quarantine; every quant counted once, in canonical or quarantine",
        (
            "inventory/test_canonical_frames.py::test_quants_of_unknown_products_and_unattributable_locations_are_quarantined",
            "inventory/test_canonical_frames.py::test_every_quant_is_counted_once_either_in_canonical_or_in_quarantine",
        ),
    ),
    Kind(
        "odoo-answers-html",
        "odoo data",
        "Odoo (or a proxy before it) answering HTML, a login page or a bare 404",
        "error naming the input",
        "`OdooServerError`: `<model>.<method>: malformed JSON-RPC answer from Odoo` (a bare "
        "404: `OdooMissingError`)",
        "nothing read is used; the run fails and is retried",
        (
            "odoo/test_protocols.py::test_a_garbled_answer_is_a_server_error",
            "odoo/test_protocols.py::test_a_proxy_404_on_the_endpoint_is_a_missing_error",
        ),
    ),
    Kind(
        "odoo-unknown-error-kind",
        "odoo data",
        "a JSON-RPC error of a kind the client does not know (`psycopg2.errors...`, "
        "`builtins.ValueError`)",
        "error naming the input",
        "`OdooServerError` carrying Odoo's error name and message, the model and method",
        "nothing written; not retried as if transient",
        ("odoo/test_protocols.py::test_jsonrpc_errors_map_by_data_name",),
    ),
    # --- channel payload --------------------------------------------------------------------
    Kind(
        "channel-webhook-order-refused",
        "channel payload",
        'a signed webhook order its model refuses: id `null`, `true`, an object, `""`, a '
        'float, <= 0; quantity `2.9`, `true`, `"2"`, `10^30`, `2^63`, negative, 0',
        "4xx",
        "422 naming the fields, never their values",
        "nothing stored; the good orders beside it are; polling parks it",
        (
            "orders/test_receiver.py::test_a_signed_order_its_model_refuses_is_422_stored_nowhere_and_logged_without_personal_data",
            "orders/test_unprocessable.py::test_a_webhook_of_2_pow_63_units_is_refused_and_stored_nowhere_and_polling_parks_it",
            "channels/test_payload_models.py::test_every_event_model_refuses_each_bad_id_and_quantity_naming_the_field",
            "channels/test_payload_models.py::test_a_refusal_names_fields_never_values",
        ),
    ),
    Kind(
        "channel-polled-order-refused",
        "channel payload",
        "a polled order (WooCommerce, Shopify, Amazon) its model refuses",
        "dead letter",
        "an order dead letter; check `no_parked_orders` red",
        "the order as the channel sent it (`dlq show`); the channel's other orders go on, "
        "its cursor moves on",
        (
            "orders/test_unprocessable.py::test_a_polled_order_of_2_pow_63_units_is_parked_and_the_channel_goes_on",
            "channels/test_payload_models.py::test_amazon_polling_hands_over_the_orders_its_models_refuse_and_reads_the_rest",
        ),
    ),
    Kind(
        "channel-order-carrying-a-credential",
        "channel payload",
        "a refused order whose payload carries a credential (a token in a note, a URL with "
        "a password)",
        "dead letter",
        "parked with the credential masked",
        "the order less the credential; polling goes on",
        (
            "orders/test_unreadable_credentials.py::test_a_refused_order_carrying_a_credential_is_parked_masked_and_polling_goes_on",
        ),
    ),
    Kind(
        "channel-order-not-for-odoo",
        "channel payload",
        "a stored order that cannot go into Odoo: a line without SKU, an unknown or archived "
        "SKU, no whole product units, no customer, Odoo refusing it",
        "dead letter",
        "parked before anything is written to Odoo, with every reason",
        "the inbox row, replayable once fixed; the other orders go on",
        (
            "orders/test_ingest.py::test_orders_that_cannot_be_created_are_parked_with_their_reason_never_half_created",
            "orders/test_unprocessable.py::test_a_stored_row_that_cannot_be_processed_is_parked_and_can_be_replayed",
        ),
    ),
    Kind(
        "channel-listing-identity",
        "channel payload",
        "two listings with one SKU, a barcode shared, a listing no product claims, a "
        "`mappings.yml` override naming a listing the channel lacks",
        "quarantine row",
        "`channels/identity_problems`: `ambiguous_sku`, `ambiguous_barcode`, "
        "`unmapped_listing`, `override_unknown_listing`; never guessed",
        "every listing and SKU in the mapping or in the problems",
        (
            "inventory/test_identity.py::test_matching_prefers_overrides_then_sku_then_a_unique_barcode",
            "inventory/test_identity.py::test_an_override_naming_an_unknown_listing_is_reported_not_used",
        ),
    ),
    Kind(
        "channel-listing-quantity-unreadable",
        "channel payload",
        'a listing read back with a quantity that is no whole number (`"lots"`, `2.5`, '
        "`[3]`, `true`, past 64 bits)",
        "error naming the input",
        "a warning naming the connector, the listing and the quantity; read as unknown",
        "the listing (its quantity unknown, published to as any other); the rest of the "
        "catalog read, the channel never unreadable for it",
        (
            "bad_input/test_channel_payloads.py::test_a_listing_showing_no_whole_quantity_is_read_as_unknown_and_the_catalog_goes_on",
            "bad_input/test_channel_payloads.py::test_a_woocommerce_stock_quantity_of_a_fraction_is_read_as_unknown_not_cut_down",
        ),
    ),
    # --- webhook ----------------------------------------------------------------------------
    Kind(
        "webhook-bad-signature",
        "webhook",
        "a webhook with no signature, a wrong one, one of another body or channel, truncated, "
        "in hex",
        "4xx",
        "401",
        "nothing stored or parsed",
        (
            "orders/test_receiver.py::test_a_bad_or_missing_signature_is_401_and_stores_nothing",
            "security/test_webhook_signatures.py::test_anything_but_the_exact_signature_is_401_and_stores_nothing",
            "security/test_webhook_signatures.py::test_a_woocommerce_delivery_signed_with_the_shopify_secret_is_401",
        ),
    ),
    Kind(
        "webhook-replayed",
        "webhook",
        "a signed webhook older than the channel's replay window (`orders.yml`, 300 s), "
        "whatever its `X-Shopify-Triggered-At`",
        "4xx",
        "400 naming the instant, its age and the window; logged without personal data",
        "nothing; polling takes the order",
        (
            "security/test_webhook_signatures.py::test_an_old_signed_delivery_is_refused_with_its_reason_stored_nowhere_and_logged_without_personal_data",
            "security/test_webhook_signatures.py::test_a_fresh_unsigned_trigger_header_does_not_make_an_old_signed_body_young",
            "security/test_webhook_signatures.py::test_an_old_trigger_header_refuses_a_late_retry_even_of_a_young_body",
        ),
    ),
    Kind(
        "webhook-body-not-json",
        "webhook",
        "a signed webhook body that is not JSON",
        "4xx",
        "400, also on every retry",
        "nothing stored; polling parks the order if the channel has it",
        ("orders/test_receiver.py::test_a_signed_body_that_is_not_json_is_400_and_stored_nowhere",),
    ),
    Kind(
        "webhook-body-too-large",
        "webhook",
        "a webhook body over 5 MiB (an Odoo push over 256 KiB)",
        "4xx",
        "413 once the limit is read (a declared length over it: at once)",
        "nothing; never more than the limit held",
        (
            "orders/test_receiver.py::test_a_huge_body_is_refused_after_the_limit_is_read_not_after_the_whole_body",
            "stream_push/test_receiver.py::test_a_huge_body_is_413",
        ),
    ),
    Kind(
        "webhook-unknown-channel",
        "webhook",
        "a webhook for a channel that takes none",
        "4xx",
        "404",
        "nothing",
        ("orders/test_receiver.py::test_an_unknown_channel_is_404",),
    ),
    Kind(
        "webhook-delivered-many-times",
        "webhook",
        "the same delivery 50 times at once",
        "stored once",
        "200 for each; one inbox row, the rest counted duplicates",
        "one order",
        ("orders/test_receiver.py::test_concurrent_redeliveries_store_each_order_once",),
    ),
    Kind(
        "webhook-ledger-unwritable",
        "webhook",
        "a webhook while the ledger cannot be written",
        "503",
        "503 (the channel delivers again); `/healthz` 503 too",
        "nothing lost: the channel retries",
        (
            "orders/test_receiver.py::test_a_ledger_that_cannot_be_written_answers_503_so_the_channel_retries",
        ),
    ),
    Kind(
        "odoo-push-bad-token",
        "webhook",
        "an Odoo push with a wrong or missing token",
        "4xx",
        "401",
        "nothing read or kept; the token never logged",
        ("stream_push/test_receiver.py::test_a_wrong_or_missing_token_is_401_and_nothing_is_kept",),
    ),
    Kind(
        "odoo-push-not-a-hint",
        "webhook",
        "an Odoo push body that is not a quant hint (not JSON, another model, no `_id`, a "
        "quantity that is not a number)",
        "4xx",
        "400 or 422 naming the field, never 5xx",
        "nothing; the change sensor sees the change",
        (
            "stream_push/test_receiver.py::test_a_body_that_is_not_a_quant_hint_is_4xx_and_never_queued",
        ),
    ),
    # --- rule file --------------------------------------------------------------------------
    Kind(
        "rules-broken-yaml",
        "rule file",
        "a rule file that is not YAML",
        "error naming the input",
        "file, line and column; `sync` says it in one line, no traceback",
        "no run starts on it",
        (
            "rules/test_policy_files.py::test_bad_yaml_in_channels_names_the_file_and_line",
            "rules/test_warehouse_rules.py::test_invalid_yaml_names_the_file_and_line",
            "test_cli_refusals.py::test_sync_with_a_broken_rules_folder_says_the_file_line_and_fix_without_a_traceback",
        ),
    ),
    Kind(
        "rules-unknown-key",
        "rule file",
        "a key no rule file knows (a typo)",
        "error naming the input",
        "file, key path and fix (remove the key)",
        "no run starts on it",
        (
            "rules/test_policy_files.py::test_an_unknown_key_names_the_channel_entry",
            "rules/test_warehouse_rules.py::test_an_unknown_key_names_its_path_and_the_fix",
        ),
    ),
    Kind(
        "rules-key-given-twice",
        "rule file",
        "a key given twice in one mapping",
        "error naming the input",
        "file, line and key, not silently the last one",
        "no run starts on it",
        (
            "rules/test_policy_files.py::test_a_key_given_twice_is_refused_with_its_line_not_silently_the_last_one",
            "rules/test_policy_files.py::test_a_key_given_twice_in_a_models_tests_file_is_refused",
        ),
    ),
    Kind(
        "rules-fences-over-100",
        "rule file",
        "ring-fenced shares adding up to more than 100%",
        "error naming the input",
        "the total and each channel's share",
        "no run starts on it",
        ("rules/test_policy_files.py::test_ring_fenced_shares_above_100_percent_are_refused",),
    ),
    Kind(
        "rules-bad-value",
        "rule file",
        "a value out of its range: a negative buffer, a bad status, a bad `incoming` rule",
        "error naming the input",
        "file, key path, the allowed values",
        "no run starts on it",
        (
            "rules/test_policy_files.py::test_a_negative_buffer_is_refused",
            "rules/test_policy_files.py::test_a_negative_buffer_in_a_policy_is_refused",
            "rules/test_warehouse_rules.py::test_a_bad_status_lists_the_allowed_values",
            "rules/test_channels_incoming.py::test_a_bad_rule_names_its_key_and_the_fix",
        ),
    ),
    Kind(
        "rules-unknown-name",
        "rule file",
        "a rule naming a warehouse, channel or model that is not there",
        "error naming the input",
        "file, key path and the names it could have meant",
        "no run starts on it",
        (
            "rules/test_policy_files.py::test_an_unknown_warehouse_names_the_channel_and_the_known_ones",
            "rules/test_policy_files.py::test_a_policy_for_an_unknown_channel_is_refused",
            "rules/test_policy_files.py::test_an_sql_model_with_an_unknown_ref_is_refused",
            "rules/test_warehouse_rules.py::test_a_transit_rule_for_an_unknown_warehouse_is_refused",
        ),
    ),
    Kind(
        "rules-bad-cron",
        "rule file",
        "a schedule Dagster could not load: a cron that is not one, an hour of 25, a step of "
        "0, a time zone that is not one",
        "error naming the input",
        "file, key path, what is wrong with the field",
        "the code location still loads: no run starts on it",
        (
            "rules/test_policy_files.py::test_automation_settings_load_and_a_bad_cron_or_unknown_key_is_named",
            "rules/test_policy_files.py::test_a_schedule_dagster_could_not_load_is_refused_by_the_rules",
        ),
    ),
    Kind(
        "rules-suppression-out-of-time",
        "rule file",
        "a suppression already expired, overlapping another, or without a time zone",
        "error naming the input",
        "file, entry and fix",
        "no run starts on it",
        (
            "rules/test_policy_files.py::test_an_expired_suppression_is_refused",
            "rules/test_policy_files.py::test_overlapping_suppressions_are_refused",
            "rules/test_policy_files.py::test_a_suppression_without_timezone_says_how_to_write_it",
        ),
    ),
    Kind(
        "rules-suppression-ends-before-it-begins",
        "rule file",
        "a suppression whose `until` is not after its `from`",
        "error naming the input",
        "file and entry: `until` must be after `from`",
        "no run starts on it; `rules check` exits 1 saying so",
        (
            "bad_input/test_rule_files.py::test_a_suppression_ending_before_it_begins_is_refused_naming_its_entry",
        ),
    ),
    Kind(
        "rules-duplicate-mapping",
        "rule file",
        "one SKU mapped twice on a channel in `mappings.yml`",
        "error naming the input",
        "both entries",
        "no run starts on it",
        ("rules/test_policy_files.py::test_a_duplicate_mapping_is_refused",),
    ),
    Kind(
        "rules-model-does-not-bind",
        "rule file",
        "a SQL model that does not parse or bind (a typo, an unknown column or table, a type "
        "mismatch, two statements)",
        "error naming the input",
        "`rules check`: file, line, DuckDB's message, fix; the model asset fails with the "
        "same line",
        "no run starts on it",
        (
            "rules/test_model_binding.py::test_a_model_that_does_not_parse_is_named_with_its_line",
            "rules/test_model_binding.py::test_a_model_naming_a_column_no_table_has_is_named_with_the_columns_it_could_mean",
            "rules/test_model_binding.py::test_a_table_read_without_ref_and_a_type_mismatch_are_refused",
            "rules/test_model_binding.py::test_a_model_is_one_select",
            "rules/test_model_binding.py::test_a_yaml_test_of_a_column_the_model_does_not_return_is_refused",
            "defs/test_model_binding_at_run.py::test_a_model_naming_a_column_its_input_lacks_fails_naming_the_file_and_line",
        ),
    ),
    Kind(
        "rules-folder-of-other-channels",
        "rule file",
        "a rules folder whose channels are not those the partitions were built from",
        "error naming the input",
        "the channels and the fix",
        "no run starts on it",
        ("defs/test_rules_resource.py::test_a_folder_with_other_channels_is_refused_with_the_fix",),
    ),
    # --- environment ------------------------------------------------------------------------
    Kind(
        "env-unknown-environment",
        "environment",
        "`INVENTORY_ENV=bogus`",
        "error naming the input",
        "one line naming the three environments",
        "-",
        ("test_cli_refusals.py::test_an_environment_that_is_not_one_is_refused_in_one_line",),
    ),
    Kind(
        "env-ledger-url-unusable",
        "environment",
        "a ledger URL that is not one, a database without a driver, an unreachable or silent "
        "PostgreSQL",
        "error naming the input",
        "one line, password hidden; a silent server after 10 s",
        "-",
        (
            "test_cli_refusals.py::test_a_ledger_url_that_cannot_be_used_is_one_line_without_its_password",
            "test_cli_refusals.py::test_a_postgresql_that_never_answers_is_one_line_after_the_connect_timeout",
        ),
    ),
    Kind(
        "env-ledger-folder-missing",
        "environment",
        "a SQLite ledger URL, or `INVENTORY_DATA_DIR`, in a folder that is not there or is a file",
        "error naming the input",
        "one line: correct the URL or create the folder",
        "never a new empty ledger whose empty queues read as all clear",
        (
            "test_cli_refusals.py::test_a_configured_ledger_in_a_folder_that_is_not_there_is_refused_not_created_empty",
            "test_cli_refusals.py::test_a_default_ledger_folder_that_cannot_be_created_is_one_line",
        ),
    ),
    Kind(
        "env-sandbox-key-outside-local",
        "environment",
        "`staging` or `prod` configured with one of the sandbox's documented keys (Odoo, a "
        "channel, a webhook secret, the push token)",
        "error naming the input",
        "that connector refuses to start: one line naming the variable, never the value",
        "-",
        (
            "security/test_sandbox_keys.py::test_outside_local_a_channel_with_a_documented_key_is_refused_naming_the_variable",
            "security/test_sandbox_keys.py::test_outside_local_odoo_with_a_documented_key_is_refused_before_any_call",
            "security/test_sandbox_keys.py::test_odoo_check_refuses_a_documented_key_in_one_line",
            "security/test_sandbox_keys.py::test_outside_local_a_documented_webhook_secret_is_refused",
            "security/test_sandbox_keys.py::test_outside_local_the_push_refuses_the_documented_token_and_odoo_key",
        ),
    ),
    Kind(
        "env-url-off-the-machine-in-local",
        "environment",
        "a channel or token URL off the machine in `local` (Amazon's `TOKEN_URL` included)",
        "error naming the input",
        "refused before any call, naming the URL's setting",
        "credentials never sent",
        (
            "channels/test_loopback_guard.py::test_amazons_token_endpoint_off_the_machine_is_refused_in_local",
            "channels/test_loopback_guard.py::test_without_a_token_url_amazon_would_call_the_real_login_with_amazon_so_local_refuses",
            "channels/test_loopback_guard.py::test_a_channel_url_off_the_machine_is_refused_in_local_and_allowed_elsewhere",
        ),
    ),
    Kind(
        "env-odoo-user-without-a-right",
        "environment",
        "an Odoo user without a right the product needs (`staging`/`prod` runs, the push, "
        "`odoo check`)",
        "error naming the input",
        "one line naming each missing right, what needs it and the group that grants it",
        "nothing read or written",
        (
            "security/test_odoo_access.py::test_outside_local_a_run_refuses_an_odoo_user_without_a_right_naming_it",
            "security/test_odoo_access.py::test_odoo_check_lists_every_right_and_exits_1_naming_the_missing_one",
        ),
    ),
    Kind(
        "env-secret-missing",
        "environment",
        "outside `local`, a webhook channel without its secret, the push without its token "
        "(or one shorter than 16)",
        "error naming the input",
        "the variable that is not set; that door stays shut, the others open",
        "the channel's orders come by polling",
        (
            "orders/test_webhooks_cli.py::test_outside_the_local_environment_a_channel_needs_its_own_secret",
            "stream_push/test_receiver.py::test_the_token_locally_defaults_to_the_sandbox_one_and_elsewhere_must_be_set",
        ),
    ),
    Kind(
        "env-secret-file-unreadable",
        "environment",
        "`INVENTORY_CHANNEL_<NAME>_WEBHOOK_SECRET_FILE` naming a file that is not there or a "
        "folder",
        "error naming the input",
        "`webhooks serve`: one line naming the variable and why (its value hidden), no traceback",
        "nothing served",
        (
            "security/test_webhook_secret_rotation.py::test_webhook_channels_reads_the_secret_file_variable",
            "bad_input/test_environment.py::test_webhooks_serve_with_an_unreadable_secret_file_is_one_line_naming_the_variable",
        ),
    ),
    # --- cli argument -----------------------------------------------------------------------
    Kind(
        "cli-unknown-channel",
        "cli argument",
        "`dlq list/replay --channel shopfy`, `sync --channel nope`, `audit --channel shopfy`",
        "error naming the input",
        "usage error naming the known channels, before anything is read",
        "-",
        (
            "test_cli_refusals.py::test_dlq_list_and_replay_refuse_an_unknown_channel_instead_of_saying_all_is_clear",
            "test_cli_refusals.py::test_sync_refuses_an_unknown_channel_before_reading_anything",
            "test_cli_ops.py::test_audit_refuses_a_time_that_is_not_one_and_an_unknown_channel",
        ),
    ),
    Kind(
        "cli-explain-unknown",
        "cli argument",
        "`explain` of a channel channels.yml lacks, or of a SKU the allocation does not hold",
        "error naming the input",
        "one line: the channels it has, or the SKU and why it may be missing",
        "-",
        (
            "allocation/test_explain.py::test_an_unknown_channel_or_sku_is_a_clear_error",
            "bad_input/test_cli_arguments.py::test_explain_of_a_channel_channels_yml_lacks_names_the_ones_it_has",
        ),
    ),
    Kind(
        "cli-dlq-id-not-there",
        "cli argument",
        "`dlq show/replay/discard` of a dead letter id that does not exist",
        "error naming the input",
        "one line per id: `no dead letter N`, exit 1",
        "the letters named beside it are replayed or discarded",
        (
            "bad_input/test_cli_arguments.py::test_dlq_of_an_id_that_is_not_there_says_so_in_one_line_and_acts_on_the_others",
        ),
    ),
    Kind(
        "cli-sql-empty-or-writing",
        "cli argument",
        '`sql ""`; analysts\' SQL that writes or reads outside the tables (`COPY ... TO`, '
        "`ATTACH`, `INSTALL`, `read_csv('/etc/passwd')`)",
        "error naming the input",
        "one line, refused",
        "the tables untouched",
        (
            "test_cli_refusals.py::test_sql_refuses_an_empty_statement_in_one_line_before_looking_for_the_catalog",
            "dataplane/test_store_and_catalog.py::test_the_analysts_sql_can_neither_write_nor_read_outside_the_tables",
        ),
    ),
    Kind(
        "cli-path-not-there",
        "cli argument",
        "`sql --catalog` in a folder that is not there; `rules check` of a file, or of a "
        "folder that is not there",
        "error naming the input",
        "one line naming the path and what to do",
        "nothing created",
        (
            "bad_input/test_cli_arguments.py::test_sql_on_a_catalog_in_a_folder_that_is_not_there_is_one_line",
            "rules/test_model_binding.py::test_rules_check_given_a_file_says_it_takes_the_folder_in_one_line",
        ),
    ),
    Kind(
        "cli-override-that-cannot-be",
        "cli argument",
        "`override request/stop` of an unknown SKU or channel, a time past, too far or "
        "without zone, a negative quantity, a blank reason, a pattern matching nothing or all",
        "error naming the input",
        "one line naming the option",
        "the refused attempt in the audit log",
        (
            "overrides/test_cli.py::test_a_request_that_cannot_be_is_refused_in_one_line_and_audited",
            "overrides/test_cli.py::test_a_stop_that_cannot_be_is_refused_and_audited",
        ),
    ),
    Kind(
        "cli-port-in-use",
        "cli argument",
        "`sandbox up` on a port in use",
        "error naming the input",
        "one line naming the port and what to do",
        "nothing started",
        (
            "test_cli_refusals.py::test_sandbox_up_on_a_port_in_use_names_the_port_and_starts_nothing",
        ),
    ),
)


def by_id() -> dict[str, Kind]:
    """The kinds by id."""
    return {kind.id: kind for kind in KINDS}


def readme_table() -> str:
    """The table of the README's bad-input section, one row per kind, in registry order."""
    rows = [
        "| kind | area | input | answer | what is kept | tests |",
        "|---|---|---|---|---|---|",
    ]
    for kind in KINDS:
        tests = ", ".join(f"`{test}`" for test in kind.tests)
        answer = f"{kind.answer}: {kind.says}"
        cells = [f"`{kind.id}`", kind.area, kind.input, answer, kind.kept, tests]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
