"""Dashboard forms of training and promotion (validated before any service is called)."""

from typing import Any, cast

from django import forms

from apps.training.selectors.training_runs import training_families, training_profiles


class RetrainForm(forms.Form):
    profile = forms.ChoiceField(choices=())
    families = forms.MultipleChoiceField(choices=(), widget=forms.CheckboxSelectMultiple)
    force = forms.BooleanField(
        required=False, label="train even if the data and parameters were already trained"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        profiles = training_profiles()
        profile = cast(forms.ChoiceField, self.fields["profile"])
        profile.choices = [(name, name) for name in profiles]
        profile.initial = profiles[0]
        families = training_families()
        chosen = cast(forms.MultipleChoiceField, self.fields["families"])
        chosen.choices = [(name, name) for name in families]
        chosen.initial = list(families)


class DecisionForm(forms.Form):
    """Approve, reject or roll back: an optional note for the audit trail."""

    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "why (kept in the audit trail)"}),
    )
