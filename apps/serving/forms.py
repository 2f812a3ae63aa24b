"""Validation of the traffic page's query string: bad values become form errors, never queries."""

from typing import Any

from django import forms

from apps.serving.selectors.inference_log import SORTS

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
ANY = [("", "any")]


class TrafficFilterForm(forms.Form):
    start = forms.DateTimeField(
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="from (UTC)",
    )
    end = forms.DateTimeField(
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="to (UTC)",
    )
    model_version = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    sex = forms.ChoiceField(required=False, choices=[*ANY, ("male", "male"), ("female", "female")])
    pclass = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[*ANY, ("1", "1st"), ("2", "2nd"), ("3", "3rd")],
        label="Pclass",
    )
    label = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[*ANY, ("1", "1 (survives)"), ("0", "0")],
        label="predicted label",
    )
    labelled = forms.ChoiceField(
        required=False,
        choices=[*ANY, ("yes", "with true label"), ("no", "without true label")],
        label="feedback",
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            (key, key.lstrip("-").replace("_", " ") + (" ↓" if key[0] == "-" else " ↑"))
            for key in SORTS
        ],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError("the start of the time range is after its end")
        return data
